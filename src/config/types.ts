/**
 * A loaded configuration: what `loadConfig` returns. Names in camelCase, every default applied,
 * every path absolute, every cross-reference checked (a job's source, repository and policy
 * exist). Sections are records by name in the order of the file; each entry repeats its name.
 */
import type { Duration, Policy } from "../retention/index.js";
import type { RotateRule } from "../rotate/rule.js";
import type { SourceConfig } from "../sources/source.js";
import type { JobKind } from "./schema-jobs.js";

export type { CommandSource, FilesSource, SourceConfig, SqliteSource } from "../sources/source.js";

export type { JobKind } from "./schema-jobs.js";

/** Exactly one of these says where a repository's password comes from. */
export type PasswordSource = { env: string } | { file: string } | { command: string } | { value: string };

export type BackendKind = "local" | "s3" | "sftp" | "rest" | "rclone";

export interface RepositoryConfig {
  name: string;
  /** As for -r; a local path is absolute (relative ones are taken from the configuration's folder). */
  url: string;
  /** The driver the URL names: 3-2-1 counts distinct kinds. */
  backend: BackendKind;
  password?: PasswordSource;
  offsite: boolean;
  /** Used by commands run without -r. */
  isDefault: boolean;
  description?: string;
}

export interface PolicyConfig {
  /** The name under `policies`, or `jobs.NAME.policy` for a policy written in a job. */
  name: string;
  policy: Policy;
  description?: string;
}

/**
 * When a job runs. `every` alone: when the last success is older than `every` (checked
 * continuously; after downtime it runs once). `cron` alone (`at` is turned into cron
 * expressions): at each of those times. Both: at those times, only when the last success is
 * older than `every` (the seeds' "at 01:00 if 7+ days since the last backup").
 */
export interface Schedule {
  /** As written, e.g. "7d". */
  every?: string;
  everyDuration?: Duration;
  /** Cron expressions (5 fields, or 6 with seconds), from `cron` and `at`. */
  cron: string[];
  /** IANA zone for `cron` and for `every`'s calendar steps; undefined: the machine's. */
  timeZone?: string;
  /** For people: "every 7d at 01:00 (Europe/Berlin)". */
  text: string;
}

interface JobBase {
  name: string;
  what: JobKind;
  description?: string;
  enabled: boolean;
  schedule: Schedule;
  /** Attempts after a failed run. */
  retries: number;
  /** Delay before the first retry; doubled for each further one. */
  retryDelayMs: number;
  timeoutMs?: number;
}

export interface BackupJob extends JobBase {
  what: "backup";
  source: string;
  repository: string;
  tags: string[];
  /** Applied to the source's snapshots after a successful backup. */
  policy?: PolicyConfig;
  prune: boolean;
}

export interface ForgetJob extends JobBase {
  what: "forget";
  repository: string;
  policy: PolicyConfig;
  /** Only this source's snapshots; undefined: all of the repository's. */
  source?: string;
  prune: boolean;
}

export interface PruneJob extends JobBase {
  what: "prune";
  repository: string;
  maxUnused?: string | number;
}

export interface CheckJob extends JobBase {
  what: "check";
  repository: string;
  readData: boolean;
  readDataSubset?: string;
}

export interface CopyJob extends JobBase {
  what: "copy";
  /** Where snapshots are copied from. */
  repository: string;
  to: string[];
  source?: string;
}

export interface RotateJob extends JobBase {
  what: "rotate";
  /** Names of rules in `rotate` (every rule when none was named). */
  rules: string[];
}

export interface RecordsJob extends JobBase {
  what: "records";
  /** Names of entries in `records` (every entry when none was named). */
  records: string[];
}

export interface BakCleanJob extends JobBase {
  what: "bak-clean";
  paths: string[];
  committed: boolean;
  keep?: number;
}

export interface CommandJob extends JobBase {
  what: "command";
  command: string | string[];
  cwd: string;
  env: Record<string, string>;
}

export type JobConfig = BackupJob | ForgetJob | PruneJob | CheckJob | CopyJob | RotateJob | RecordsJob | BakCleanJob | CommandJob;

export interface RecordsConfig {
  name: string;
  /** Absolute paths or globs. */
  files: string[];
  timeField: string;
  olderThan: string;
  /** Relative to each file's folder. */
  archiveDir: string;
  archiveMaxAge: string;
  key?: string;
  format: "auto" | "json" | "ndjson";
  timeZone?: string;
}

export interface WebhookConfig {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  retries: number;
}

export interface NotifyConfig {
  webhooks: WebhookConfig[];
  commands: (string | string[])[];
  onSuccess: boolean;
}

export interface HealthConfig {
  /** 0: no HTTP endpoint. */
  port: number;
  lateFactor: number;
  criticalFactor: number;
  checkMaxAge?: string;
  pendingMaxAge: string;
  /** Bytes, or a percentage of the disk. */
  minFreeSpace: { bytes: number } | { percent: number };
  requireOffsite: boolean;
}

export interface CofferConfig {
  /** The file it was read from (absolute); undefined for a document given in memory. */
  file?: string;
  /** Relative paths in the file are taken from here: the file's folder. */
  dir: string;
  version: 1;
  repositories: Record<string, RepositoryConfig>;
  /** The repository used without -r: the one marked default, or the only one. */
  defaultRepository?: string;
  sources: Record<string, SourceConfig>;
  policies: Record<string, PolicyConfig>;
  jobs: Record<string, JobConfig>;
  /** Rules for `rotate()`, files absolute, each named (the name given, or its key, or `rotate[i]`). */
  rotate: RotateRule[];
  records: Record<string, RecordsConfig>;
  notify: NotifyConfig;
  health: HealthConfig;
}
