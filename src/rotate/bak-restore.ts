import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { copyToBak, findBaks } from "./bak.js";
import type { WarningSink } from "../core/warning.js";
import { fsyncDir, nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import { stageFile } from "./stage-file.js";

export interface RestoreBakOptions {
  /** The copy to restore, by name or path; default the newest copy of the file. */
  from?: string;
  now?: Date;
  /** Tag of the copy made of the current content first; default `pre-restore`. */
  tag?: string;
  onWarning?: WarningSink;
  fs?: RotateFs;
}

export interface RestoreBakResult {
  file: string;
  /** The copy restored. */
  from: string;
  /** The copy of what the file held before; undefined when the file did not exist. */
  saved: string | undefined;
}

/**
 * Puts a `.bak` copy back in place of its file. The current content is first kept as a `.bak`
 * copy of its own (tag `pre-restore`), so a restore can itself be undone; no copy is deleted.
 * The copy's content is staged and fsynced next to the file before anything else, then renamed
 * over it (atomic), and the file keeps its own mode when it exists.
 */
export async function restoreBak(file: string, opts: RestoreBakOptions = {}): Promise<RestoreBakResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const target = resolve(file);
  const dir = dirname(target);
  const now = opts.now ?? new Date();
  const warn = opts.onWarning ?? (() => {});
  const copies = (await findBaks(fs, dir)).get(target) ?? [];
  let from: string;
  if (opts.from !== undefined) {
    from = isAbsolute(opts.from) || opts.from.includes("/") ? resolve(opts.from) : join(dir, opts.from);
    if (!copies.some((c) => c.path === from)) {
      const names = copies.map((c) => c.name).join(", ");
      throw new CofferError("NOT_FOUND", `${basename(from)} is not a .bak copy of ${target}${names ? `; its copies are ${names}` : "; it has no copies"}.`, { file: target, from });
    }
  } else {
    const newest = copies[0];
    if (!newest) throw new CofferError("NOT_FOUND", `${target} has no .bak copies to restore.`, { file: target });
    from = newest.path;
  }
  const current = await fs.stat(target).catch((err: unknown) => {
    if (sysCode(err) === "ENOENT") return undefined;
    throw ioError(err, `reading ${target}`);
  });
  if (current && !current.isFile()) throw new CofferError("INVALID", `${target} is not a regular file; nothing was restored.`, { file: target });
  const src = await fs.stat(from);
  let staged;
  try {
    staged = await stageFile(fs, dir, basename(target), { copyOf: from }, { mode: (current ?? src).mode & 0o7777, ...(current ? { uid: current.uid, gid: current.gid } : {}) });
  } catch (err) {
    const e = ioError(err, `reading ${from}`);
    throw new CofferError(e.code, `${e.message.replace(/\.$/, "")}; ${target} was left as it was.`, { ...e.data, file: target }, { cause: err });
  }
  try {
    const saved = current ? await copyToBak(fs, target, now, opts.tag ?? "pre-restore", warn) : undefined;
    try {
      await fs.rename(staged.tmp, target);
    } catch (err) {
      throw ioError(err, `putting ${basename(from)} in place of ${target} (it was left as it was${saved ? `; its content is also in ${basename(saved)}` : ""})`);
    }
    await fsyncDir(fs, dir);
    return { file: target, from, saved };
  } finally {
    await staged.discard();
  }
}
