import { join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { applyPolicy, type Decision, type RetentionItem } from "../retention/index.js";
import { formatStamp } from "../rotate/name-stamp.js";
import { nodeRotateFs, type RotateFs } from "../rotate/rotate-fs.js";
import { parseArchiveName } from "./archive-file.js";
import type { RecordsWarningSink } from "./records-warning.js";

export interface PruneArchivesOptions {
  /** Archive files older than this (by the time in their name) are deleted; default `90d`. */
  maxAge?: string;
  /** Only the archives of this live file's stem (`sent_messages`); default all in the folder. */
  stem?: string;
  now?: Date;
  dryRun?: boolean;
  timeZone?: string;
  onWarning?: RecordsWarningSink;
  fs?: RotateFs;
}

export interface ArchiveFileItem extends RetentionItem {
  path: string;
  name: string;
  stem: string;
}

export interface PruneArchivesResult {
  dryRun: boolean;
  /** Every archive file, oldest first, with the retention engine's reasons. */
  archives: Decision<ArchiveFileItem>[];
  /** Deleted (or, in a dry run, to be deleted). */
  removed: string[];
}

/**
 * Deletes record archive files (`{stem}_archive_{YYYYMMDD_HHMMSS}[_N].json`) in `dir` whose name
 * is older than `maxAge` — the retention engine's `max-age`, nothing kept for being the newest.
 * Other files are never touched. An archive named in the future (a clock set back when it was
 * written) is kept and reported.
 */
export async function pruneArchives(dir: string, opts: PruneArchivesOptions = {}): Promise<PruneArchivesResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const root = resolve(dir);
  const now = opts.now ?? new Date();
  const warn = opts.onWarning ?? (() => {});
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `${root} does not exist.`, { path: root });
    throw ioError(err, `listing ${root}`);
  }
  const items: ArchiveFileItem[] = [];
  for (const name of names.sort()) {
    const p = parseArchiveName(name, opts.stem);
    if (!p) continue;
    const path = join(root, name);
    const st = await fs.lstat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    // Same-second archives keep their counter order.
    items.push({ id: name, path, name, stem: p.stem, time: new Date(p.named.getTime() + p.counter) });
    if (p.named.getTime() > now.getTime() + 60_000) {
      warn({ code: "CLOCK_BACKWARDS", path, message: `${name} is named after ${formatStamp(now, "compact")}, the time now; the clock was or is wrong. It is kept.` });
    }
  }
  const policy = { maxAge: opts.maxAge ?? "90d", allowEmpty: true, ...(opts.timeZone !== undefined ? { timeZone: opts.timeZone } : {}) };
  const res = applyPolicy(items, policy, now);
  const removed: string[] = [];
  for (const d of res.remove) {
    if (opts.dryRun) {
      removed.push(d.path);
      continue;
    }
    try {
      await fs.unlink(d.path);
      removed.push(d.path);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") warn({ code: "FAILED", path: d.path, message: `Could not delete ${d.path}: ${(err as Error).message}` });
    }
  }
  return { dryRun: opts.dryRun === true, archives: res.decisions, removed };
}
