/**
 * backend: where repository files are stored. One small `Backend` interface (a plain store of
 * named files), one file per driver (local, memory, s3, sftp, rest, rclone), wrappers that add
 * retry and concurrency limits to any driver, and `openBackend` / `wrapBackend` to get a ready
 * one from a URL.
 * Depends only on core.
 */
export * from "./backend.js";
export * from "./local.js";
export * from "./memory.js";
export * from "./s3.js";
export * from "./sftp.js";
export * from "./retry.js";
export * from "./limit.js";
export * from "./delegating-backend.js";
export * from "./open.js";
