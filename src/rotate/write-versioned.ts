import { basename, dirname, extname, join, resolve } from "node:path";
import { CofferError, ioError, isCofferError, sysCode } from "../core/errors.js";
import { applyPolicy, type Decision, type RetentionItem } from "../retention/index.js";
import { escape } from "./date-format.js";
import { formatStamp, parseStamp, STAMP_PATTERN } from "./name-stamp.js";
import type { WarningSink } from "../core/warning.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import { stageFile, sweepTemps, writeFileAtomic } from "./stage-file.js";
import { takeLock } from "./take-lock.js";

export interface WriteVersionedOptions {
  /** Versions kept in the archive folder besides the live file; default 7 (0 keeps none). */
  keep?: number;
  /** Where versions go; default `archive` next to the file. Relative: to the file's folder. */
  archiveDir?: string;
  now?: Date;
  /** How long to wait for another writer of the same file; default 10 s, then LOCKED. */
  lockTimeoutMs?: number;
  /** Permission bits of a file that does not exist yet; an existing file keeps its own. */
  mode?: number;
  onWarning?: WarningSink;
  fs?: RotateFs;
}

/** A kept version: `{stem}_{YYYY-MM-DD_HHMMSS}_{counter}{ext}` in the archive folder. */
export interface VersionFile extends RetentionItem {
  path: string;
  name: string;
  /** The time its name says (local wall clock). */
  named: Date;
  counter: number;
}

export interface WriteVersionedResult {
  path: string;
  /** Where the previous content was kept; undefined when there was none (a new file). */
  archived: string | undefined;
  /** Every version after the write, newest first, with the retention engine's reasons. */
  versions: Decision<VersionFile>[];
  /** Versions deleted by `keep`. */
  removed: string[];
}

/**
 * Writes `data` to `path`, keeping the previous content as a version in the archive folder and
 * the newest `keep` versions there.
 *
 * Two writers of one file are serialised by a lock file (`PATH.lock`, see `takeLock`: O_EXCL,
 * stale once its process is gone), so each one's previous content is a version and no write is
 * lost. Names never replace a file: the version is staged, fsynced, then hard-linked under its
 * name, and a taken name moves the counter on. The counter grows across the folder (the highest
 * counter plus one), so the newest version is the one with the highest counter even when the
 * clock has gone back; the time in the name is for people. The new content replaces the file
 * atomically (temporary file, fsync, rename, fsync of the folder). When it cannot be written,
 * the version just made is removed again and the file is left as it was.
 */
export async function writeVersioned(path: string, data: string | Uint8Array, opts: WriteVersionedOptions = {}): Promise<WriteVersionedResult> {
  return versioned(path, data, opts);
}

/** Keeps the current content of `path` as a version, without writing anything new (`coffer versions PATH`). */
export async function saveVersion(path: string, opts: WriteVersionedOptions = {}): Promise<WriteVersionedResult> {
  return versioned(path, undefined, opts);
}

async function versioned(path: string, data: string | Uint8Array | undefined, opts: WriteVersionedOptions): Promise<WriteVersionedResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const keep = opts.keep ?? 7;
  if (!Number.isInteger(keep) || keep < 0) throw new CofferError("INVALID", `keep must be a whole number of at least 0, not ${String(keep)}.`, { keep });
  const file = resolve(path);
  const archiveDir = resolve(dirname(file), opts.archiveDir ?? "archive");
  const now = opts.now ?? new Date();
  const name = basename(file);
  const ext = extname(name);
  const stem = ext === "" ? name : name.slice(0, -ext.length);
  const warn: WarningSink = opts.onWarning ?? (() => {});

  const release = await takeLock(fs, `${file}.lock`, { timeoutMs: opts.lockTimeoutMs ?? 10_000, onWarning: warn }).catch((err: unknown) => {
    if (isCofferError(err, "LOCKED")) throw new CofferError("LOCKED", `Another writer holds ${file}.lock; wait for it, or remove the file if that process is gone.`, err.data);
    throw err;
  });
  try {
    const st = await fs.stat(file).catch((err: unknown) => {
      if (sysCode(err) === "ENOENT") return undefined;
      throw ioError(err, `reading ${file}`);
    });
    if (st && !st.isFile()) throw new CofferError("INVALID", `${file} is not a regular file; only files are versioned.`, { path: file });
    if (!st && data === undefined) throw new CofferError("NOT_FOUND", `${file} does not exist; there is nothing to keep a version of.`, { path: file });

    let archived: string | undefined;
    let existing: VersionFile[] = [];
    if (st) {
      await fs.mkdir(archiveDir, { recursive: true }).catch((err: unknown) => {
        throw ioError(err, `creating the archive folder ${archiveDir}`);
      });
      await sweepTemps(fs, archiveDir, `${stem}${ext}`);
      existing = await listVersions(fs, archiveDir, stem, ext);
      const newest = existing[0];
      if (newest && newest.named.getTime() > now.getTime() + 1000) {
        warn({
          code: "CLOCK_BACKWARDS",
          path: newest.path,
          message: `The newest version ${newest.name} is named after ${formatStamp(now, "dashed")}, the time now; the clock went back. Versions are ordered by their counter, so nothing is lost.`,
        });
      }
      archived = await keepPrevious(fs, file, archiveDir, { stem, ext, now, counter: (newest?.counter ?? 0) + 1, mode: st.mode & 0o7777, mtime: st.mtime, warn });
    }

    if (data !== undefined) {
      try {
        await writeFileAtomic(fs, file, data, { mode: st ? st.mode & 0o7777 : (opts.mode ?? 0o644), ...(st ? { uid: st.uid, gid: st.gid } : {}) });
      } catch (err) {
        // Undo: the version just made is a copy of what the file still holds.
        if (archived !== undefined) await fs.unlink(archived).catch(() => {});
        const e = ioError(err, `writing ${file}`);
        throw new CofferError(e.code, `${e.message.replace(/\.$/, "")}; ${file} was left as it was.`, { ...e.data, path: file }, { cause: err });
      }
    }

    const versions = st ? await listVersions(fs, archiveDir, stem, ext) : [];
    const res = applyPolicy(versions, { maxCount: keep, allowEmpty: true }, now);
    const removed: string[] = [];
    for (const d of res.decisions) {
      d.reasons = d.reasons.map((r) => r.replace(/^within max-count (\d+)$/, "newest $1 (keep)").replace(/^max-count (\d+)$/, "beyond keep $1"));
      if (d.keep) continue;
      try {
        await fs.unlink(d.item.path);
        removed.push(d.item.path);
      } catch (err) {
        if (sysCode(err) !== "ENOENT") warn({ code: "FAILED", path: d.item.path, message: `Could not delete the old version ${d.item.path}: ${(err as Error).message}` });
      }
    }
    return { path: file, archived, versions: [...res.decisions].reverse(), removed };
  } finally {
    await release();
  }
}

interface KeepInput {
  stem: string;
  ext: string;
  now: Date;
  counter: number;
  mode: number;
  mtime: Date;
  warn: WarningSink;
}

/** Copies the file's current content to the next free version name; returns its path. */
async function keepPrevious(fs: RotateFs, file: string, archiveDir: string, k: KeepInput): Promise<string> {
  const stamp = formatStamp(k.now, "dashed");
  let staged;
  try {
    staged = await stageFile(fs, archiveDir, `${k.stem}${k.ext}`, { copyOf: file }, { mode: k.mode, mtime: k.mtime });
  } catch (err) {
    const e = ioError(err, `keeping the previous content of ${file} in ${archiveDir}`);
    throw new CofferError(e.code, `${e.message.replace(/\.$/, "")}; ${file} was left as it was.`, { ...e.data, path: file }, { cause: err });
  }
  try {
    for (let counter = k.counter, tries = 0; tries < 10_000; counter++, tries++) {
      const to = join(archiveDir, versionName(k.stem, k.ext, stamp, counter));
      if (await staged.publish(to)) return to;
      if (tries === 0) k.warn({ code: "COLLISION", path: to, message: `${to} exists; the version takes the next counter, nothing is overwritten.` });
    }
    throw new CofferError("IO", `No free version name for ${file} in ${archiveDir}.`, { path: file });
  } catch (err) {
    throw ioError(err, `keeping the previous content of ${file} in ${archiveDir}`);
  } finally {
    await staged.discard();
  }
}

export function versionName(stem: string, ext: string, stamp: string, counter: number): string {
  return `${stem}_${stamp}_${String(counter).padStart(4, "0")}${ext}`;
}

/** The versions of `{stem}{ext}` in `dir`, newest (highest counter) first. */
export async function listVersions(fs: RotateFs, dir: string, stem: string, ext: string): Promise<VersionFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (sysCode(err) === "ENOENT") return [];
    throw ioError(err, `listing ${dir}`);
  }
  const re = new RegExp(`^${escape(stem)}_(${STAMP_PATTERN.dashed})_(\\d+)${escape(ext)}$`);
  const found: Omit<VersionFile, "time">[] = [];
  for (const name of names) {
    const m = re.exec(name);
    const named = m ? parseStamp(m[1] as string) : undefined;
    if (!m || !named) continue;
    found.push({ id: name, path: join(dir, name), name, named, counter: Number(m[2]) });
  }
  found.sort((a, b) => b.counter - a.counter || b.named.getTime() - a.named.getTime() || (a.name < b.name ? 1 : -1));
  // The retention engine orders by time: held back so no version looks newer than a later one.
  let prev = Infinity;
  return found.map((v) => {
    const t = Math.min(v.named.getTime(), prev - 1);
    prev = t;
    return { ...v, time: new Date(t) };
  });
}
