import { join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { Decision } from "../retention/index.js";
import { BAK_KEEP, decideBaks, findBaks, removeBaks, type BakFile } from "./bak.js";
import { commitStates } from "./git-status.js";
import type { WarningSink } from "../core/warning.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";

/** Folders never searched for copies: git's own and installed packages. */
const SKIP_DIRS = new Set([".git", "node_modules"]);

/** The copies of one file. */
export interface BakGroup {
  file: string;
  /** Whether the file itself still exists. */
  exists: boolean;
  copies: BakFile[];
  bytes: number;
}

/** Every file with `.bak` copies under `root` (sub-folders too, but not .git or node_modules), by path. */
export async function listBaks(root: string, opts: { fs?: RotateFs; recursive?: boolean } = {}): Promise<BakGroup[]> {
  const fs = opts.fs ?? nodeRotateFs;
  const top = resolve(root);
  const st = await fs.stat(top).catch((err: unknown) => {
    if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `${top} does not exist.`, { path: top });
    throw ioError(err, `reading ${top}`);
  });
  if (!st.isDirectory()) throw new CofferError("INVALID", `${top} is not a folder; name the folder to search for .bak copies.`, { path: top });
  const groups: BakGroup[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const [file, copies] of await findBaks(fs, dir)) {
      const exists = await fs.lstat(file).then(() => true, () => false);
      groups.push({ file, exists, copies, bytes: copies.reduce((n, c) => n + c.size, 0) });
    }
    if (opts.recursive === false) return;
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      if (SKIP_DIRS.has(name)) continue;
      const p = join(dir, name);
      const s = await fs.lstat(p).catch(() => undefined);
      if (s?.isDirectory()) await walk(p);
    }
  };
  await walk(top);
  return groups.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export interface CleanBaksOptions {
  /** Only copies of files whose current content is committed and unchanged in git. */
  committed?: boolean;
  /** Copies kept per file; default 3, or 0 with `committed` (the commit holds the content). */
  keep?: number;
  dryRun?: boolean;
  now?: Date;
  recursive?: boolean;
  onWarning?: WarningSink;
  fs?: RotateFs;
}

export interface CleanBaksFile {
  file: string;
  /** Why its copies were left alone (with `committed`: "modified since the last commit"…); undefined when the policy was applied. */
  skipped: string | undefined;
  copies: Decision<BakFile>[];
}

export interface CleanBaksResult {
  dryRun: boolean;
  files: CleanBaksFile[];
  /** Deleted (or, in a dry run, to be deleted). */
  removed: string[];
}

/**
 * Keeps the newest `keep` copies of each file under `root` and deletes the rest. With
 * `committed`, only files whose current content git holds in HEAD are cleaned (their copies are
 * redundant once committed); copies of modified, staged, untracked, deleted or repository-less
 * files stay, each with its reason.
 */
export async function cleanBaks(root: string, opts: CleanBaksOptions = {}): Promise<CleanBaksResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const keep = opts.keep ?? (opts.committed ? 0 : BAK_KEEP);
  if (!Number.isInteger(keep) || keep < 0) throw new CofferError("INVALID", `keep must be a whole number of at least 0, not ${String(keep)}.`, { keep });
  const now = opts.now ?? new Date();
  const warn = opts.onWarning ?? (() => {});
  const dryRun = opts.dryRun === true;
  const groups = await listBaks(root, { fs, ...(opts.recursive !== undefined ? { recursive: opts.recursive } : {}) });
  const states = opts.committed ? await commitStates(groups.map((g) => g.file)) : undefined;
  const files: CleanBaksFile[] = [];
  const removed: string[] = [];
  for (const g of groups) {
    const state = states?.get(g.file);
    if (state && !state.committed) {
      files.push({ file: g.file, skipped: state.reason, copies: g.copies.map((c) => ({ item: c, keep: true, reasons: [`file ${state.reason}`] })) });
      continue;
    }
    const decisions = decideBaks(g.copies, keep, now).map((d) => (state && !d.keep ? { ...d, reasons: [state.reason, ...d.reasons] } : d));
    files.push({ file: g.file, skipped: undefined, copies: decisions });
    if (dryRun) removed.push(...decisions.filter((d) => !d.keep).map((d) => d.item.path));
    else removed.push(...(await removeBaks(fs, decisions, warn)));
  }
  return { dryRun, files, removed };
}
