import { randomBytes } from "node:crypto";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { sysCode } from "../core/errors.js";

/**
 * The file operations rotation uses, passed in so fault tests can fail any one of them (a full
 * disk in the middle of a write, a read-only directory, a file replaced between two calls).
 * Defaults to node:fs/promises.
 */
export type RotateFs = Pick<
  typeof fsp,
  "lstat" | "stat" | "readdir" | "rename" | "link" | "unlink" | "mkdir" | "open" | "utimes" | "readFile"
>;

export const nodeRotateFs: RotateFs = fsp;

const TEMP_MARK = ".coffer-tmp-";

/** A temporary name next to `name` in `dir`; hidden, unique, and never read as a rotated copy. */
export function tempPath(dir: string, name: string): string {
  return join(dir, `.${name}${TEMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`);
}

export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(TEMP_MARK);
}

/** Makes a rename or link in `dir` durable. Some file systems cannot fsync a directory; the data is then as durable as they allow. */
export async function fsyncDir(fs: RotateFs, dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fs.open(dir, "r");
    await fh.sync();
  } catch (err) {
    const code = sysCode(err);
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM" && code !== "EBADF" && code !== "ENOTSUP") throw err;
  } finally {
    await fh?.close().catch(() => {});
  }
}
