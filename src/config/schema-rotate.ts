/**
 * A log rotation rule in coffer.yaml: the fields of `RotateRule` (src/rotate/rule.ts) in
 * kebab-case. Defaults are the rotation engine's (`ROTATE_DEFAULTS`, the seeds' practice), so
 * only `files` is required.
 */
import { z } from "zod";
import { count, duration, list, size, timeZone } from "./schema-parts.js";

const nullable = <T extends z.ZodType>(t: T) => z.union([t, z.null()]);

export const rotateRuleSchema = z
  .strictObject({
    name: z.string().min(1).optional().meta({ description: "Shown in reasons and results; jobs name rules by it." }),
    files: list("Log files: paths or globs (relative to the configuration's folder)."),
    size: nullable(size("Rotate when the file is at least this big (null: never by size).")).optional(),
    interval: nullable(z.enum(["hourly", "daily", "weekly", "monthly", "yearly"])).optional().meta({ description: "Rotate when the calendar period has changed since the last rotation." }),
    "time-zone": timeZone().optional(),
    "max-size": nullable(size("Rotate early once the file is bigger than this, whatever the interval and guards say.")).optional(),
    "min-size": nullable(size("A smaller file is left alone by the interval trigger. Default 5k.")).optional(),
    "min-age": nullable(duration("A younger file is left alone by the interval trigger. Default 1h.")).optional(),
    "min-age-from": z.enum(["created", "modified"]).optional(),
    naming: z.enum(["date", "numbered"]).optional().meta({ description: "date: app.log.2026-11-20 (.N on collision); numbered: app.log.1, .2 …" }),
    "date-format": z.string().optional().meta({ description: "strftime form of the date suffix. Default .%Y-%m-%d." }),
    "name-date": z.enum(["start", "rotation", "yesterday"]).optional(),
    "backups-dir": z.string().optional().meta({ description: "Where the newest copies live (relative to the log's folder). Default backups." }),
    keep: count("How many of the newest copies stay in backups-dir. Default 7.").optional(),
    "archive-dir": nullable(z.string()).optional().meta({ description: "Where older copies go (null: they are deleted). Default archive." }),
    compress: z.enum(["gzip", "zstd", "none"]).optional(),
    "compress-level": z.number().int().min(1).max(19).optional(),
    "compress-after": duration("A copy is compressed once older than this (0h: at once). Default 7d.").optional(),
    "delay-compress": z.boolean().optional(),
    "archive-max-age": nullable(duration("Archived copies older than this are deleted. Default 30d.")).optional(),
    "archive-keep": nullable(count("At most this many archived copies. Default 7.")).optional(),
    mode: z.enum(["create", "rename", "copytruncate"]).optional(),
    "create-mode": z.union([z.number().int(), z.string()]).optional(),
    "create-owner": z.union([z.number().int(), z.string()]).optional(),
    "create-group": z.union([z.number().int(), z.string()]).optional(),
    "missing-ok": z.boolean().optional(),
    "if-empty": z.boolean().optional(),
    "not-if-empty": z.boolean().optional(),
    "post-rotate": z.string().optional().meta({ description: "Shell command run after rotating: $1 is the log, $2 its copy." }),
    "shared-scripts": z.boolean().optional(),
    signal: z
      .strictObject({
        "pid-file": z.string().min(1),
        signal: z.string().optional(),
      })
      .optional()
      .meta({ description: "Tell the writer to reopen its file: a signal (default SIGHUP) to the pid in pid-file." }),
    maintain: z.enum(["always", "on-rotation"]).optional(),
  })
  .meta({ description: "A log rotation rule; every field but files has the seeds' default." });

export type RotateRuleDocument = z.infer<typeof rotateRuleSchema>;
