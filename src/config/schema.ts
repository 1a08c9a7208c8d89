/**
 * The schema of `coffer.yaml`, as written (kebab-case keys). `configSchema` validates a parsed
 * document; `resolveConfig` (resolve.ts) then turns it into the camelCase `CofferConfig` with
 * defaults, absolute paths and checked cross-references. The same schema is exported as JSON
 * Schema for editors (json-schema.ts), so every description here is what an editor shows.
 */
import { z } from "zod";
import { jobSchema } from "./schema-jobs.js";
import { commandLine, count, duration, envMap, list, nonEmptyText, size, sizeOrPercent, span, timeZone } from "./schema-parts.js";
import { policySchema } from "./schema-policy.js";
import { rotateRuleSchema } from "./schema-rotate.js";

export { policySchema };

export const passwordSchema = z
  .strictObject({
    env: nonEmptyText("Read the password from this environment variable.").optional(),
    file: nonEmptyText("Read the password from this file (one trailing newline is dropped; relative to the configuration's folder).").optional(),
    command: nonEmptyText("Run this shell command; its standard output is the password (e.g. pass show coffer/app).").optional(),
    value: nonEmptyText("The password itself, in plain text. Prefer env, file or command.").optional(),
  })
  .meta({ description: "Where the repository password comes from: exactly one of env, file, command, value.", minProperties: 1, maxProperties: 1 })
  .superRefine((v, ctx) => {
    const given = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: given.length === 0 ? "no password source is given" : `give one password source, not ${given.length} (${given.join(", ")})`,
        input: v,
        params: { hint: "write one of env: VAR, file: PATH or command: CMD" },
      });
    }
  });

export const repositorySchema = z
  .strictObject({
    url: nonEmptyText("Repository location: a path, local:PATH, s3:https://host/bucket/prefix, sftp:user@host:/path, rest:http://host:port/path, rclone:remote:path."),
    password: passwordSchema.optional(),
    offsite: z.boolean().optional().meta({ description: "This repository is off-site (counts for the 3-2-1 rule)." }),
    default: z.boolean().optional().meta({ description: "Used by commands run without -r (default: the only repository, if there is one)." }),
    description: z.string().optional(),
  })
  .meta({ description: "A repository snapshots are stored in." });

export const sourceSchema = z
  .strictObject({
    kind: z.enum(["files", "sqlite", "command"]).optional().meta({
      description: "files: paths; sqlite: live SQLite databases copied consistently (and paths); command: a command's standard output. Default: command when command is set, sqlite when databases are, else files.",
    }),
    description: z.string().optional(),
    paths: list("Files and folders to back up (relative to the configuration's folder).").optional(),
    databases: list("SQLite databases, copied with SQLite's online backup API (consistent while written, WAL included).").optional(),
    exclude: list("Glob patterns to leave out (restic semantics; a leading / anchors at the absolute path).").optional(),
    iexclude: list("Like exclude, ignoring case.").optional(),
    "exclude-file": list("Files with one exclude pattern per line.").optional(),
    "ignore-file": list("Ignore-file names honoured in every folder with gitignore rules, e.g. .gitignore (.cofferignore always counts).").optional(),
    "exclude-caches": z.boolean().optional().meta({ description: "Leave out the contents of folders holding a CACHEDIR.TAG." }),
    "exclude-larger-than": size("Leave out files larger than this.").optional(),
    "one-file-system": z.boolean().optional().meta({ description: "Do not cross into other file systems." }),
    tags: list("Tags added to every snapshot of this source.").optional(),
    command: commandLine("command sources: the command whose standard output is stored (pg_dump, mysqldump …).").optional(),
    filename: nonEmptyText("command sources: the file name the output is stored under in the snapshot (/NAME).").optional(),
    cwd: z.string().optional().meta({ description: "command sources: the folder the command runs in (default the configuration's folder)." }),
    env: envMap().optional(),
    "tmp-dir": z.string().optional().meta({ description: "Where database copies and command output are staged before the backup (default the system's temporary folder)." }),
    "integrity-check": z.enum(["quick", "full", "off"]).optional().meta({ description: "sqlite sources: check each copy before storing it (PRAGMA quick_check or integrity_check); default quick." }),
  })
  .meta({ description: "Something to back up into one snapshot per run." });

const webhookSchema = z.union([
  z.string().min(1),
  z.strictObject({
    url: nonEmptyText("URL the event is POSTed to as JSON."),
    headers: z.record(z.string(), z.string()).optional().meta({ description: "Extra HTTP headers (e.g. Authorization); masked by config show." }),
    timeout: span("Give up on one attempt after this long.").optional(),
    retries: count("Attempts after the first failed one.").optional(),
  }),
]);

export const notifySchema = z
  .strictObject({
    webhook: z.union([webhookSchema, z.array(webhookSchema)]).optional().meta({ description: "POST each event as JSON to this URL (or these)." }),
    command: commandLine("Run this with the event as JSON on standard input.").optional(),
    "on-success": z.boolean().optional().meta({ description: "Notify on every success too (default: only failures and recoveries)." }),
  })
  .meta({ description: "Where failures and recoveries of jobs are reported." });

export const healthSchema = z
  .strictObject({
    port: z.number().int().min(0).max(65535).optional().meta({ description: "HTTP port of the daemon's /healthz, /metrics and /status on 127.0.0.1 (0: off). Default 9312." }),
    "late-factor": z.number().min(1).optional().meta({ description: "A job is late (warning) when its last success is older than this many intervals. Default 1.5." }),
    "critical-factor": z.number().min(1).optional().meta({ description: "A job is critical when its last success is older than this many intervals. Default 3." }),
    "check-max-age": duration("Warn when the last successful check is older than this.").optional(),
    "pending-max-age": duration("Warn about pre-change snapshots pending verification for longer than this.").optional(),
    "min-free-space": sizeOrPercent("Warn when a local repository's disk has less free space than this.").optional(),
    "require-offsite": z.boolean().optional().meta({ description: "Require the 3-2-1 rule: each source's newest snapshot in 2+ repositories of different kinds, one off-site. Default: on when an off-site repository is configured." }),
  })
  .meta({ description: "Thresholds of coffer health and coffer status." });

export const recordsSchema = z
  .strictObject({
    files: list("Live JSON or NDJSON files (globs allowed; relative to the configuration's folder)."),
    "time-field": nonEmptyText("Where each record's time is: a key, or keys joined by dots (meta.sent_at)."),
    "older-than": duration("Records older than this move to an archive file. Default 365d.").optional(),
    "archive-dir": z.string().optional().meta({ description: "Where archive files go (relative to each file's folder). Default archives." }),
    "archive-max-age": duration("Archive files older than this are deleted. Default 90d.").optional(),
    key: z.string().optional().meta({ description: "The records are the array under this key of a JSON object." }),
    format: z.enum(["auto", "json", "ndjson"]).optional(),
    "time-zone": timeZone().optional(),
  })
  .meta({ description: "Record archiving for JSON and NDJSON files." });

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().meta({ description: "The JSON Schema of this file, for editors." }),
    version: z.literal(1).optional().meta({ description: "Format version of this file: 1." }),
    repositories: z.record(z.string(), repositorySchema).optional(),
    sources: z.record(z.string(), sourceSchema).optional(),
    policies: z.record(z.string(), policySchema).optional(),
    jobs: z.record(z.string(), jobSchema).optional(),
    rotate: z.union([z.array(rotateRuleSchema), z.record(z.string(), rotateRuleSchema)]).optional().meta({ description: "Log rotation rules: a list, or rules by name." }),
    records: z.record(z.string(), recordsSchema).optional(),
    notify: notifySchema.optional(),
    health: healthSchema.optional(),
  })
  .meta({ title: "coffer.yaml", description: "coffer's configuration: repositories, sources, retention policies, scheduled jobs, log rotation, record archiving, notifications and health thresholds." });

export type ConfigDocument = z.infer<typeof configSchema>;
export type RepositoryDocument = z.infer<typeof repositorySchema>;
export type SourceDocument = z.infer<typeof sourceSchema>;
export type PolicyDocument = z.infer<typeof policySchema>;
export type NotifyDocument = z.infer<typeof notifySchema>;
export type HealthDocument = z.infer<typeof healthSchema>;
export type RecordsDocument = z.infer<typeof recordsSchema>;
