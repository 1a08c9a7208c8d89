import { basename, dirname, join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { applyPolicy, type Decision, type RetentionItem } from "../retention/index.js";
import { escape } from "./date-format.js";
import { formatStamp, parseStamp, STAMP_PATTERN } from "./name-stamp.js";
import type { WarningSink } from "../core/warning.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import { stageFile, sweepTemps } from "./stage-file.js";

/** `.bak` copies kept per file when nothing else is said (the seeds' `max_backups=3`). */
export const BAK_KEEP = 3;

/**
 * A `.bak` copy next to its file: `FILE.bak.YYYYMMDD_HHMMSS[_N][.TAG]`. `_N` is the counter
 * added when the name of that second is taken (never overwritten); TAG is free text such as an
 * artifact id. The newest is the one whose name says the latest time (then counter).
 */
export interface BakFile extends RetentionItem {
  path: string;
  name: string;
  /** The file it is a copy of. */
  of: string;
  named: Date;
  counter: number;
  tag: string | undefined;
  size: number;
}

const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BAK_RE = new RegExp(`^(?<of>.+)\\.bak\\.(?<stamp>${STAMP_PATTERN.compact})(?:_(?<n>\\d+))?(?:\\.(?<tag>[A-Za-z0-9][A-Za-z0-9._-]*))?$`);

export function checkTag(tag: string | undefined): string | undefined {
  if (tag === undefined || tag === "") return undefined;
  if (!TAG_RE.test(tag)) throw new CofferError("INVALID", `The tag "${tag}" cannot be part of a file name; use letters, digits, ".", "_" and "-" (starting with a letter or digit).`, { tag });
  return tag;
}

export function bakName(fileName: string, stamp: string, counter: number, tag: string | undefined): string {
  return `${fileName}.bak.${stamp}${counter > 0 ? `_${counter}` : ""}${tag !== undefined ? `.${tag}` : ""}`;
}

/** Reads a name as a `.bak` copy: the name of the file it copies, its time, counter and tag. */
export function parseBakName(name: string): { of: string; named: Date; counter: number; tag: string | undefined } | undefined {
  const g = BAK_RE.exec(name)?.groups;
  const named = g ? parseStamp(g.stamp ?? "") : undefined;
  if (!g || !named) return undefined;
  return { of: g.of as string, named, counter: Number(g.n ?? 0), tag: g.tag };
}

/** Newest first: time in the name, then counter. */
function newestFirst(a: Omit<BakFile, "time">, b: Omit<BakFile, "time">): number {
  return b.named.getTime() - a.named.getTime() || b.counter - a.counter || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}

/** Every `.bak` copy in `dir` (not below it), grouped by the file it copies; each group newest first. */
export async function findBaks(fs: RotateFs, dir: string): Promise<Map<string, BakFile[]>> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (sysCode(err) === "ENOENT") return new Map();
    throw ioError(err, `listing ${dir}`);
  }
  const groups = new Map<string, Omit<BakFile, "time">[]>();
  for (const name of names) {
    if (!name.includes(".bak.")) continue;
    const p = parseBakName(name);
    if (!p) continue;
    const path = join(dir, name);
    const st = await fs.lstat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    const of = join(dir, p.of);
    const list = groups.get(of) ?? [];
    list.push({ id: name, path, name, of, named: p.named, counter: p.counter, tag: p.tag, size: st.size, group: of });
    groups.set(of, list);
  }
  const out = new Map<string, BakFile[]>();
  for (const [of, list] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out.set(of, withTimes(list.sort(newestFirst)));
  return out;
}

/** Retention times from the names, held back so no copy looks newer than one that sorts after it. */
function withTimes(list: Omit<BakFile, "time">[]): BakFile[] {
  let prev = Infinity;
  return list.map((b) => {
    const t = Math.min(b.named.getTime(), prev - 1);
    prev = t;
    return { ...b, time: new Date(t) };
  });
}

/**
 * The retention engine's decision on one file's copies (newest `keep` stay), in the words of
 * `.bak` copies. `fresh` is a copy made just now: it counts as the newest whatever its name says,
 * so a clock that went back cannot make the new copy the first one deleted.
 */
export function decideBaks(copies: readonly BakFile[], keep: number, now: Date, fresh?: string): Decision<BakFile>[] {
  const items = copies.map((c) => (c.path === fresh ? { ...c, time: new Date(Math.max(now.getTime(), ...copies.map((o) => o.time.getTime() + 1))) } : c));
  const res = applyPolicy(items, { maxCount: keep, allowEmpty: true }, now);
  return [...res.decisions].reverse().map((d) => ({
    ...d,
    reasons: d.reasons.map((r) => r.replace(/^within max-count (\d+)$/, "newest $1 (keep)").replace(/^max-count (\d+)$/, "beyond keep $1")),
  }));
}

export interface MakeBakOptions {
  tag?: string;
  /** Copies kept per file, the new one included; default 3. */
  keep?: number;
  now?: Date;
  onWarning?: WarningSink;
  fs?: RotateFs;
}

export interface MakeBakResult {
  file: string;
  /** The new copy. */
  bak: string;
  /** The file's copies after the new one, newest first, with reasons. */
  copies: Decision<BakFile>[];
  removed: string[];
}

/**
 * Makes a `.bak` copy of each file, next to it, then keeps its newest `keep` copies. Every file
 * is checked before any copy is made, so a missing one stops the command with nothing done. A
 * copy is complete before it has its name (staged, fsynced, hard-linked: never overwriting);
 * its mode and modification time are the file's.
 */
export async function makeBak(files: readonly string[], opts: MakeBakOptions = {}): Promise<MakeBakResult[]> {
  const fs = opts.fs ?? nodeRotateFs;
  const keep = opts.keep ?? BAK_KEEP;
  if (!Number.isInteger(keep) || keep < 1) throw new CofferError("INVALID", `keep must be a whole number of at least 1 (the new copy), not ${String(keep)}.`, { keep });
  const tag = checkTag(opts.tag);
  const now = opts.now ?? new Date();
  const warn = opts.onWarning ?? (() => {});
  const paths = [...new Set(files.map((f) => resolve(f)))];
  for (const p of paths) {
    const st = await fs.stat(p).catch((err: unknown) => {
      if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `${p} does not exist; nothing was copied.`, { path: p });
      throw ioError(err, `reading ${p}`);
    });
    if (!st.isFile()) throw new CofferError("INVALID", `${p} is not a regular file; only files get .bak copies. Nothing was copied.`, { path: p });
  }
  const out: MakeBakResult[] = [];
  for (const file of paths) {
    const bak = await copyToBak(fs, file, now, tag, warn);
    const copies = (await findBaks(fs, dirname(file))).get(file) ?? [];
    const decisions = decideBaks(copies, keep, now, bak);
    out.push({ file, bak, copies: decisions, removed: await removeBaks(fs, decisions, warn) });
  }
  return out;
}

/** Makes one `.bak` copy of `file` under the first free name; returns its path. */
export async function copyToBak(fs: RotateFs, file: string, now: Date, tag: string | undefined, warn: WarningSink): Promise<string> {
  const dir = dirname(file);
  const name = basename(file);
  const stamp = formatStamp(now, "compact");
  await sweepTemps(fs, dir, name);
  const newest = ((await findBaks(fs, dir)).get(file) ?? [])[0];
  if (newest && newest.named.getTime() > now.getTime() + 1000) {
    warn({ code: "CLOCK_BACKWARDS", path: newest.path, message: `The copy ${newest.name} is named after ${formatStamp(now, "compact")}, the time now; the clock went back. The new copy still counts as the newest.` });
  }
  let staged;
  const fh = await fs.open(file, "r").catch((err: unknown) => {
    throw ioError(err, `reading ${file}`);
  });
  try {
    const st = await fh.stat();
    staged = await stageFile(fs, dir, name, { copyOf: fh }, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime });
  } catch (err) {
    const e = ioError(err, `copying ${file}`);
    throw new CofferError(e.code, `${e.message.replace(/\.$/, "")}; no copy was made and ${file} is unchanged.`, { ...e.data, path: file }, { cause: err });
  } finally {
    await fh.close().catch(() => {});
  }
  try {
    for (let counter = 0; counter < 10_000; counter++) {
      const to = join(dir, bakName(name, stamp, counter, tag));
      if (await staged.publish(to)) return to;
      if (counter === 0) warn({ code: "COLLISION", path: to, message: `${basename(to)} exists; the copy takes a counter suffix, nothing is overwritten.` });
    }
    throw new CofferError("IO", `No free .bak name for ${file}.`, { path: file });
  } catch (err) {
    throw ioError(err, `naming the copy of ${file}`);
  } finally {
    await staged.discard();
  }
}

/** Deletes the copies the decisions remove; a failure is a warning. Returns the deleted paths. */
export async function removeBaks(fs: RotateFs, decisions: readonly Decision<BakFile>[], warn: WarningSink): Promise<string[]> {
  const removed: string[] = [];
  for (const d of decisions) {
    if (d.keep) continue;
    try {
      await fs.unlink(d.item.path);
      removed.push(d.item.path);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") warn({ code: "FAILED", path: d.item.path, message: `Could not delete ${d.item.path}: ${(err as Error).message}` });
    }
  }
  return removed;
}
