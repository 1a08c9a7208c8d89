/**
 * core: the small things every layer shares: the error type and its codes, warnings,
 * the progress interface, the clock, id helpers. Depends on nothing else in coffer.
 */
export * from "./errors.js";
export * from "./warning.js";
export * from "./progress.js";
export * from "./clock.js";
export * from "./hex.js";
export * from "./version.js";
