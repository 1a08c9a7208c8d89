/**
 * config: `coffer.yaml` — its schema (zod, exported as JSON Schema for editors), finding and
 * loading it, defaults, and the checks that explain every problem with its place in the file
 * and a hint. `loadConfig` gives a `CofferConfig`: repositories (with password sources),
 * sources, retention policies, scheduled jobs, rotate rules, records entries, notifications and
 * health thresholds, ready for the CLI and the daemon.
 */
export { checkConfigText, configSearchPath, CONFIG_FILE_NAMES, findConfigFile, loadConfig, loadConfigSync, parseConfig, type Env, type LoadOptions, type ParseOptions } from "./load.js";
export { configError, configIssues, formatIssue, formatPath, type ConfigIssue } from "./issues.js";
export { configJsonSchema } from "./json-schema.js";
export { maskedConfig, maskUrl, MASK, showConfigYaml } from "./mask.js";
export { describePasswordSource, resolvePasswordSource, type PasswordOptions } from "./password.js";
export { backendKind, HEALTH_DEFAULTS, JOB_DEFAULTS, RECORDS_DEFAULTS } from "./resolve.js";
export { JOB_SETTINGS } from "./resolve-jobs.js";
export { describeSchedule } from "./schedule.js";
export { configSchema, type ConfigDocument } from "./schema.js";
export { JOB_KINDS } from "./schema-jobs.js";
export { starterConfig, type StarterOptions } from "./starter.js";
export { parseSpan, parseTimeOfDay } from "./values.js";
export type * from "./types.js";
