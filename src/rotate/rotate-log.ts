import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CofferError, sysCode } from "../core/errors.js";
import { copyDirs, findCopies, type CopyDirs, type CopyFile } from "./find-copies.js";
import { copyRange, moveFile } from "./move-file.js";
import { COMPRESSED_EXT, datedName, numberedName, parseCopyName } from "./rotated-name.js";
import { fsyncDir, tempPath, type RotateFs } from "./rotate-fs.js";
import type { WarningSink } from "../core/warning.js";
import type { ResolvedRule } from "./rule.js";

export interface RotateLogInput {
  fs: RotateFs;
  livePath: string;
  rule: ResolvedRule;
  copies: readonly CopyFile[];
  /** The file as examined when it was found due; a different file at the path is not rotated. */
  stat: Stats;
  /** When the file began (creation or last rotation), for names dated by their start. */
  started: Date | undefined;
  now: Date;
  dryRun: boolean;
  onWarning: WarningSink;
}

/** One thing done (or, in a dry run, to be done) to rotate a log. */
export interface RotateStep {
  kind: "shift" | "rotate" | "create" | "truncate";
  path: string;
  to?: string;
  note?: string;
  /** The step failed (the rotation itself still happened). */
  error?: string;
}

/**
 * Rotates one log: shifts numbered copies up by one (highest first), then moves the log to its
 * copy name — renamed (modes `create`, `rename`) or copied durably and truncated
 * (`copytruncate`) — and for `create` makes a new empty file with the old one's mode and owner.
 * A dated name that is taken gets the next counter; nothing is ever overwritten. Each step is
 * passed to `record` as it is done, so a failure part-way is still reported truthfully.
 * Returns the copy's path and the copies as they now are.
 */
export async function rotateLog(input: RotateLogInput, record: (s: RotateStep) => void): Promise<{ copyPath: string; copies: CopyFile[] }> {
  const { fs, livePath, rule, now, dryRun } = input;
  const dirs = copyDirs(livePath, rule);
  const liveName = basename(livePath);
  const dir = rule.keep > 0 ? dirs.backups : (dirs.archive ?? dirs.backups);
  if (!dryRun) {
    const current = await fs.lstat(livePath);
    if (current.ino !== input.stat.ino || current.dev !== input.stat.dev) {
      throw new CofferError("IO", `${livePath} was replaced after it was examined; it is left alone this run.`, { warning: "CHANGED" });
    }
    await fs.mkdir(dir, { recursive: true });
  }
  let copies = [...input.copies];
  if (rule.naming === "numbered") copies = await shift(input, copies, record);
  const taken = await namesIn(fs, dirs, input.copies, copies);
  let counter = 0;
  for (;;) {
    const when = { now, started: input.started };
    const name = rule.naming === "numbered" ? numberedName(liveName, 1) : datedName(liveName, rule, when, counter);
    const target = join(dir, name);
    const busy = taken.has(name) || Object.values(COMPRESSED_EXT).some((ext) => taken.has(name + ext));
    if (busy && rule.naming === "numbered") {
      throw new CofferError("IO", `Cannot rotate ${livePath}: ${target} exists and was not shifted; nothing was overwritten.`, { warning: "COLLISION" });
    }
    if (busy) {
      counter++;
      continue;
    }
    const placed = dryRun ? "moved" : await place(input, target);
    if (placed === "exists") {
      taken.add(name);
      counter++;
      continue;
    }
    const note = counter > 0 ? `${datedName(liveName, rule, when, 0)} exists, counter ${counter}` : undefined;
    if (rule.mode === "copytruncate") {
      record({ kind: "rotate", path: livePath, to: target, note: note ?? "copied" });
      record({ kind: "truncate", path: livePath });
    } else {
      record({ kind: "rotate", path: livePath, to: target, ...(note ? { note } : {}) });
      if (rule.mode === "create") {
        try {
          const made = dryRun ? "created" : await createLive(input);
          record({ kind: "create", path: livePath, note: made });
        } catch (err) {
          // The log is rotated; only its empty successor is missing, which the writer makes when it reopens.
          const error = `Rotated ${livePath}, but could not create the new empty file (${sysCode(err) ?? (err as Error).message}); the writer creates it when it reopens its log.`;
          record({ kind: "create", path: livePath, error });
          input.onWarning({ code: "FAILED", path: livePath, message: error });
        }
      }
    }
    if (dryRun) {
      const parsed = parseCopyName(liveName, name, rule);
      if (parsed) copies.push({ path: target, dir, name, parsed, mtime: input.stat.mtime, size: input.stat.size });
      return { copyPath: target, copies };
    }
    return { copyPath: target, copies: await findCopies(fs, livePath, rule, dirs) };
  }
}

/** `app.log.N` → `app.log.N+1`, highest first, each in its own directory. */
async function shift(input: RotateLogInput, copies: CopyFile[], record: (s: RotateStep) => void): Promise<CopyFile[]> {
  const liveName = basename(input.livePath);
  const out: CopyFile[] = [];
  for (const c of [...copies].sort((a, b) => (b.parsed.number ?? 0) - (a.parsed.number ?? 0))) {
    const ext = c.parsed.compressed ? COMPRESSED_EXT[c.parsed.compressed] : "";
    const name = numberedName(liveName, (c.parsed.number ?? 0) + 1) + ext;
    const to = join(c.dir, name);
    if (!input.dryRun && (await moveFile(input.fs, c.path, to)) === "exists") {
      throw new CofferError("IO", `Cannot shift ${c.path} to ${to}: the name is taken; nothing was overwritten.`, { warning: "COLLISION" });
    }
    record({ kind: "shift", path: c.path, to, note: "numbered copies move up one" });
    const parsed = parseCopyName(liveName, name, input.rule);
    if (parsed) out.push({ ...c, path: to, name, parsed });
  }
  return out;
}

/** Names in the copy directories, as they are after the shift (`before` → `after`; in a dry run only the lists moved). */
async function namesIn(fs: RotateFs, dirs: CopyDirs, before: readonly CopyFile[], after: readonly CopyFile[]): Promise<Set<string>> {
  const names = new Set<string>();
  const gone = new Set(before.map((c) => c.name));
  for (const dir of new Set([dirs.backups, ...(dirs.archive ? [dirs.archive] : [])])) {
    try {
      for (const n of await fs.readdir(dir)) if (!gone.has(n)) names.add(n);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") throw err;
    }
  }
  for (const c of after) names.add(c.name);
  return names;
}

/** Puts the log's content at `target`: rename, or durable copy then truncate. */
async function place(input: RotateLogInput, target: string): Promise<"moved" | "exists"> {
  const { fs, livePath } = input;
  if (input.rule.mode !== "copytruncate") {
    try {
      const moved = await moveFile(fs, livePath, target);
      if (moved === "moved" && (await fs.lstat(target)).ino !== input.stat.ino) {
        input.onWarning({ code: "CHANGED", path: livePath, message: `${livePath} was replaced during its rotation; ${target} holds the replacement, and the file examined before is wherever the replacer put it.` });
      }
      return moved;
    } catch (err) {
      if (sysCode(err) === "EXDEV") {
        throw new CofferError("IO", `Cannot rename ${livePath} into ${dirname(target)}: another file system. Put the backups directory on the log's file system, or use copytruncate.`, {}, { cause: err });
      }
      throw err;
    }
  }
  return copyTruncate(fs, livePath, target, input.stat);
}

/**
 * logrotate's copytruncate, made safer: the copy is written to a temporary file, fsynced and
 * linked to its name before the log is truncated; what the writer appended meanwhile is copied
 * too. Lines written between the last check and the truncation can still be lost: that window
 * is inherent in copytruncate (use `create` with a signal when the writer can reopen its file).
 */
async function copyTruncate(fs: RotateFs, livePath: string, target: string, st: Stats): Promise<"moved" | "exists"> {
  const live = await fs.open(livePath, "r+");
  const tmp = tempPath(dirname(target), basename(target));
  let out: FileHandle | undefined;
  try {
    out = await fs.open(tmp, "wx", st.mode & 0o777);
    let copied = await copyRange(live, out, 0);
    for (let i = 0; i < 3; i++) {
      const grew = (await live.stat()).size;
      if (grew <= copied) break;
      copied += await copyRange(live, out, copied);
    }
    await out.chmod(st.mode & 0o7777);
    await out.chown(st.uid, st.gid).catch(() => {});
    await out.sync();
    try {
      await fs.link(tmp, target);
    } catch (err) {
      if (sysCode(err) === "EEXIST") return "exists";
      throw err;
    }
    await fsyncDir(fs, dirname(target));
    const last = (await live.stat()).size;
    if (last > copied) {
      copied += await copyRange(live, out, copied);
      await out.sync();
    }
    await out.close();
    out = undefined;
    await fs.utimes(target, st.atime, (await live.stat()).mtime);
    try {
      await live.truncate(0);
    } catch (err) {
      // Not truncated: drop the copy, or its lines would be in two files.
      await fs.unlink(target).catch(() => {});
      throw err;
    }
    return "moved";
  } finally {
    await out?.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    await live.close().catch(() => {});
  }
}

/** The new empty log of `create`: mode and owner from the rule, else from the old file. */
async function createLive(input: RotateLogInput): Promise<string> {
  const { fs, livePath, rule, stat } = input;
  const mode = rule.createMode ?? stat.mode & 0o777;
  let fh: FileHandle;
  try {
    fh = await fs.open(livePath, "wx", mode);
  } catch (err) {
    if (sysCode(err) === "EEXIST") return "the writer already made a new file";
    throw err;
  }
  try {
    await fh.chmod(mode);
    const uid = rule.createOwner ?? stat.uid;
    const gid = rule.createGroup ?? stat.gid;
    if (uid !== process.getuid?.() || gid !== process.getgid?.()) await fh.chown(uid, gid);
  } finally {
    await fh.close();
  }
  return `mode ${(mode & 0o7777).toString(8).padStart(4, "0")}`;
}
