import { basename, relative, resolve } from "node:path";
import { CofferError } from "../../core/errors.js";
import { archiveRecords } from "../../records/archive-records.js";
import { pruneArchives } from "../../records/prune-archives.js";
import type { RecordsWarning } from "../../records/records-warning.js";
import { defineCommand } from "../command.js";
import type { Context } from "../context.js";
import { printJson, printLine, printVerbose, printWarning } from "../output.js";

function show(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === "" ? "." : rel.startsWith("..") ? p : rel;
}

const warner = (ctx: Context) => (w: RecordsWarning) => printWarning(ctx, w.message);

interface ArchiveFlags {
  timeField?: string;
  olderThan?: string;
  archiveDir?: string;
  key?: string;
  format?: "auto" | "json" | "ndjson";
  dryRun?: boolean;
}

const archiveCommand = defineCommand<ArchiveFlags>({
  name: "archive",
  summary: "move old records of a JSON or NDJSON file into an archive file",
  description:
    "Move the records of FILE whose time (--time-field, keys joined by dots) is older than --older-than into a new archive file " +
    "{stem}_archive_{YYYYMMDD_HHMMSS}.json in --archive-dir, with metadata (count, date range, archived time). The live file keeps the " +
    "other records, its formatting untouched. Records without a readable time stay, and are counted in a warning. The run holds " +
    "FILE.lock (writers of the file should take it too) and is crash-safe: a run stopped at any point is finished by the next one, " +
    "with no record lost or doubled.",
  examples: [
    "coffer records archive data/sent_messages.json --time-field timestamp --older-than 365d --archive-dir data/archives",
    "coffer records archive state.json --key messages --time-field meta.sent_at --older-than 1y --archive-dir archives --dry-run",
    "coffer records archive events.ndjson --time-field ts --older-than 30d --archive-dir old --json",
  ],
  arguments: [{ name: "<file>", description: "the live record file (JSON array, JSON object with --key, or NDJSON)" }],
  options: [
    { flags: "--time-field <path>", description: "where each record's time is: key or keys joined by dots" },
    { flags: "--older-than <duration>", description: "records older than this move (e.g. 365d, 1y, 6m)", default: "365d" },
    { flags: "--archive-dir <dir>", description: "where archive files go (default: archives next to FILE)" },
    { flags: "--key <key>", description: "the records are the array under this key of a JSON object" },
    { flags: "--format <format>", description: "file format", choices: ["auto", "json", "ndjson"], default: "auto" },
    { flags: "-n, --dry-run", description: "say what would move, change nothing" },
  ],
  async run(ctx, args, opts) {
    if (opts.timeField === undefined) throw new CofferError("USAGE", "Say where each record's time is: --time-field PATH (e.g. timestamp, meta.sent_at).");
    const res = await archiveRecords(args[0] as string, {
      timeField: opts.timeField,
      olderThan: opts.olderThan ?? "365d",
      now: ctx.clock(),
      format: opts.format ?? "auto",
      dryRun: opts.dryRun === true,
      onWarning: warner(ctx),
      ...(opts.archiveDir !== undefined ? { archiveDir: resolve(opts.archiveDir) } : {}),
      ...(opts.key !== undefined ? { key: opts.key } : {}),
    });
    if (ctx.options.json) return printJson(ctx, res);
    const verb = res.dryRun ? "would move" : "moved";
    if (res.archive === undefined) {
      printLine(ctx, `no record of ${show(res.file)} is older than ${opts.olderThan ?? "365d"} (before ${res.cutoff.toISOString()}); ${res.total} record${res.total === 1 ? "" : "s"} stay`);
      return;
    }
    printLine(ctx, `${res.dryRun ? "dry run: " : ""}${verb} ${res.moved} of ${res.total} records of ${show(res.file)} to ${show(res.archive)}; ${res.kept} stay`);
    if (res.dateRange) printVerbose(ctx, `moved records from ${res.dateRange.oldest.toISOString()} to ${res.dateRange.newest.toISOString()} (cutoff ${res.cutoff.toISOString()})`);
  },
});

const pruneCommand = defineCommand<{ maxAge?: string; dryRun?: boolean; stem?: string }>({
  name: "prune",
  summary: "delete record archive files older than an age",
  description:
    "Delete the archive files ({stem}_archive_{YYYYMMDD_HHMMSS}.json) in DIR whose name is older than --max-age (default 90d). " +
    "Other files are never touched.",
  examples: ["coffer records prune data/archives --max-age 90d", "coffer records prune data/archives --max-age 6m --dry-run"],
  arguments: [{ name: "<dir>", description: "the archive folder" }],
  options: [
    { flags: "--max-age <duration>", description: "archives older than this are deleted", default: "90d" },
    { flags: "--stem <stem>", description: "only the archives of this file (e.g. sent_messages)" },
    { flags: "-n, --dry-run", description: "say what would be deleted, delete nothing" },
  ],
  async run(ctx, args, opts) {
    const res = await pruneArchives(args[0] as string, {
      maxAge: opts.maxAge ?? "90d",
      now: ctx.clock(),
      dryRun: opts.dryRun === true,
      onWarning: warner(ctx),
      ...(opts.stem !== undefined ? { stem: opts.stem } : {}),
    });
    if (ctx.options.json) return printJson(ctx, res);
    for (const d of res.archives) {
      if (d.keep) printVerbose(ctx, `kept ${basename(d.item.path)} (${d.reasons.join("; ")})`);
      else if (res.removed.includes(d.item.path)) printLine(ctx, `${res.dryRun ? "would delete" : "deleted"} ${basename(d.item.path)} (${d.reasons.join("; ")})`);
    }
    printLine(ctx, `${res.dryRun ? "dry run: " : ""}${res.removed.length} of ${res.archives.length} archive file${res.archives.length === 1 ? "" : "s"} ${res.dryRun ? "would be " : ""}deleted`);
  },
});

export const recordsCommand = defineCommand({
  name: "records",
  summary: "archive old records of JSON and NDJSON files, and prune the archives",
  examples: ["coffer records archive sent_messages.json --time-field timestamp --older-than 365d --archive-dir archives", "coffer records prune archives --max-age 90d"],
  subcommands: [archiveCommand, pruneCommand],
});
