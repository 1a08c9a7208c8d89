/**
 * Jobs over files the configuration names: record archiving (old records out of live JSON and
 * NDJSON files, then archives past their age deleted) and `.bak` clean-up.
 */
import { basename, dirname, extname, resolve } from "node:path";
import type { BakCleanJob, CofferConfig, RecordsJob } from "../config/types.js";
import { CofferError } from "../core/errors.js";
import { archiveRecords } from "../records/archive-records.js";
import { pruneArchives } from "../records/prune-archives.js";
import { cleanBaks } from "../rotate/bak-clean.js";
import { expandFiles } from "../rotate/expand-files.js";
import { nodeRotateFs } from "../rotate/rotate-fs.js";
import type { AttemptContext, JobOutcome } from "./daemon-job.js";
import { warnTo } from "./file-jobs.js";

export async function runRecordsJob(j: RecordsJob, config: CofferConfig, ctx: AttemptContext): Promise<JobOutcome> {
  let moved = 0;
  let files = 0;
  let removed = 0;
  const onWarning = warnTo(ctx);
  for (const name of j.records) {
    const entry = config.records[name];
    if (entry === undefined) throw new CofferError("NOT_FOUND", `The configuration has no records entry ${name}.`);
    const found = await expandFiles(nodeRotateFs, entry.files, config.dir);
    for (const u of found.unmatched) ctx.log(`records ${name}: nothing matches ${u}`);
    for (const { path } of found.paths) {
      if (ctx.signal.aborted) throw new CofferError("INTERRUPTED", "Record archiving was stopped between two files; each file is whole.");
      const r = await archiveRecords(path, {
        timeField: entry.timeField,
        olderThan: entry.olderThan,
        archiveDir: entry.archiveDir,
        format: entry.format,
        onWarning,
        ...(entry.key !== undefined ? { key: entry.key } : {}),
        ...(entry.timeZone !== undefined ? { timeZone: entry.timeZone } : {}),
      });
      files++;
      moved += r.moved;
      if (r.moved > 0) ctx.log(`records ${name}: ${r.moved} records of ${path} archived to ${r.archive ?? "?"}`);
      const p = await pruneArchives(resolve(dirname(path), entry.archiveDir), {
        maxAge: entry.archiveMaxAge,
        stem: basename(path, extname(path)),
        onWarning,
        ...(entry.timeZone !== undefined ? { timeZone: entry.timeZone } : {}),
      });
      removed += p.removed.length;
    }
  }
  return { status: "success", summary: `${moved} records archived from ${files} files, ${removed} old archives removed`, details: { moved, files, archives_removed: removed } };
}

export async function runBakCleanJob(j: BakCleanJob, ctx: AttemptContext): Promise<JobOutcome> {
  let removed = 0;
  for (const root of j.paths) {
    if (ctx.signal.aborted) throw new CofferError("INTERRUPTED", "Cleaning .bak copies was stopped.");
    const r = await cleanBaks(root, { committed: j.committed, ...(j.keep !== undefined ? { keep: j.keep } : {}), onWarning: warnTo(ctx) });
    removed += r.removed.length;
  }
  return { status: "success", summary: `${removed} .bak copies removed`, details: { removed } };
}
