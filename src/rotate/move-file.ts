import type { FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { sysCode } from "../core/errors.js";
import { fsyncDir, tempPath, type RotateFs } from "./rotate-fs.js";

/**
 * Moves `src` to `dst` without replacing a file at `dst`: returns "exists" and leaves `src` alone
 * when the name is taken (the check and the rename are not one step; rotation holds its lock,
 * so only a foreign process could slip in between). A rename is atomic, so a crash never leaves
 * the file under both names, and one undone by a crash loses nothing (the file keeps its old
 * name): no fsync is needed. Across file systems (`acrossDevices`) the file is copied and
 * fsynced, linked into place (never replacing) and the directory fsynced before the source is
 * removed; without `acrossDevices` EXDEV is an error.
 */
export async function moveFile(fs: RotateFs, src: string, dst: string, opts: { acrossDevices?: boolean } = {}): Promise<"moved" | "exists"> {
  if (await exists(fs, dst)) return "exists";
  try {
    await fs.rename(src, dst);
  } catch (err) {
    if (sysCode(err) !== "EXDEV" || opts.acrossDevices !== true) throw err;
    return copyAcross(fs, src, dst);
  }
  return "moved";
}

async function copyAcross(fs: RotateFs, src: string, dst: string): Promise<"moved" | "exists"> {
  const tmp = tempPath(dirname(dst), basename(dst));
  const st = await fs.stat(src);
  try {
    await durableCopy(fs, src, tmp, { mode: st.mode & 0o7777, mtime: st.mtime });
    try {
      await fs.link(tmp, dst);
    } catch (err) {
      if (sysCode(err) === "EEXIST") return "exists";
      throw err;
    }
  } finally {
    await fs.unlink(tmp).catch(() => {});
  }
  await fsyncDir(fs, dirname(dst));
  await fs.unlink(src);
  return "moved";
}

export interface CopyOptions {
  mode: number;
  uid?: number;
  gid?: number;
  /** Given to the copy, so its age is its content's age. */
  mtime?: Date;
}

/** Copies `src` into a new file `dst` (which must not exist) and fsyncs it; a failed copy leaves no `dst`. Returns the bytes copied. */
export async function durableCopy(fs: RotateFs, src: string | FileHandle, dst: string, opts: CopyOptions): Promise<number> {
  const input = typeof src === "string" ? await fs.open(src, "r") : src;
  let out: FileHandle | undefined;
  let copied = 0;
  try {
    out = await fs.open(dst, "wx", opts.mode);
    copied = await copyRange(input, out, 0);
    await out.chmod(opts.mode);
    if (opts.uid !== undefined && opts.gid !== undefined) await out.chown(opts.uid, opts.gid).catch(() => {});
    await out.sync();
    await out.close();
    out = undefined;
    if (opts.mtime !== undefined) await fs.utimes(dst, opts.mtime, opts.mtime);
  } catch (err) {
    await out?.close().catch(() => {});
    await fs.unlink(dst).catch(() => {});
    throw err;
  } finally {
    if (typeof src === "string") await input.close().catch(() => {});
  }
  return copied;
}

/** Appends `input` from `from` to its end onto `out`; returns the bytes copied. */
export async function copyRange(input: FileHandle, out: FileHandle, from: number): Promise<number> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = from;
  for (;;) {
    const { bytesRead } = await input.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    let off = 0;
    while (off < bytesRead) {
      const { bytesWritten } = await out.write(buf, off, bytesRead - off);
      off += bytesWritten;
    }
    pos += bytesRead;
  }
  return pos - from;
}

async function exists(fs: RotateFs, p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (sysCode(err) === "ENOENT") return false;
    throw err;
  }
}
