/**
 * A scheduled job in coffer.yaml. One object for every kind of job (`what`); which settings a
 * kind takes is checked when the configuration is resolved (resolve-jobs.ts), with a message
 * naming the setting and the kinds it belongs to.
 */
import { z } from "zod";
import { policySchema } from "./schema-policy.js";
import { commandLine, count, cron, duration, envMap, list, span, timeOfDay, timeZone } from "./schema-parts.js";

export const JOB_KINDS = ["backup", "forget", "prune", "check", "rotate", "records", "bak-clean", "copy", "command"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const jobSchema = z
  .strictObject({
    what: z.enum(JOB_KINDS).meta({ description: "What the job does." }),
    description: z.string().optional(),
    enabled: z.boolean().optional().meta({ description: "false: the job is kept but never runs. Default true." }),
    every: duration("Run when the last success is older than this; after downtime the job runs once, not once per missed period.").optional(),
    at: z.union([timeOfDay(), z.array(timeOfDay()).min(1)]).optional().meta({ description: "Run at this time of day (or these). With every: check at these times and run when the last success is older than every." }),
    cron: cron().optional(),
    "time-zone": timeZone("IANA time zone of at and cron; default the machine's.").optional(),
    retries: count("Attempts after a failed run, with a growing delay. Default 2.").optional(),
    "retry-delay": span("Delay before the first retry; it doubles with each further retry. Default 1min.").optional(),
    timeout: span("Stop the run (as failed) after this long.").optional(),
    source: z.string().optional().meta({ description: "backup: the source to back up. forget, check, copy: only this source's snapshots." }),
    repository: z.string().optional().meta({ description: "The repository (a name under repositories). Default: the only one, or the one marked default." }),
    policy: z.union([z.string(), policySchema]).optional().meta({ description: "forget (and backup, after a successful run): a policy name under policies, or a policy written here." }),
    prune: z.boolean().optional().meta({ description: "forget and backup with a policy: prune the repository afterwards." }),
    tags: list("backup: tags added to the snapshot.").optional(),
    "max-unused": z.union([z.string(), z.number()]).optional().meta({ description: "prune: unused space allowed to stay: 5% (default), a size, or unlimited." }),
    "read-data": z.boolean().optional().meta({ description: "check: read and verify every pack." }),
    "read-data-subset": z.string().optional().meta({ description: "check: read a part of the packs each run: n/t or x%." }),
    to: list("copy: the repositories snapshots are copied to.").optional(),
    rules: list("rotate: the names of the rotate rules to run (default all).").optional(),
    records: list("records: the names of the records entries to run (default all).").optional(),
    paths: list("bak-clean: folders searched for .bak copies (relative to the configuration's folder).").optional(),
    committed: z.boolean().optional().meta({ description: "bak-clean: only copies of files committed and unchanged in git. Default true." }),
    keep: count("bak-clean: copies kept per file.").optional(),
    command: commandLine("command: what to run.").optional(),
    cwd: z.string().optional().meta({ description: "command: the folder it runs in (default the configuration's folder)." }),
    env: envMap().optional(),
  })
  .meta({ description: "A job the daemon runs on a schedule: every, at, cron (with time-zone), or a combination of every with at or cron." });

export type JobDocument = z.infer<typeof jobSchema>;
