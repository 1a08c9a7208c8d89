import type { BigIntStats } from "node:fs";
import { basename } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { RotateFs } from "../rotate/rotate-fs.js";

/** Reads the whole live file and the identity it was read with (inode, size, modification time in ns). */
export async function readLive(fs: RotateFs, path: string): Promise<{ text: string; stat: BigIntStats }> {
  let fh;
  try {
    fh = await fs.open(path, "r");
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `${path} does not exist.`, { path });
    throw ioError(err, `reading ${path}`);
  }
  try {
    const stat = await fh.stat({ bigint: true });
    if (!stat.isFile()) throw new CofferError("INVALID", `${path} is not a regular file.`, { path });
    const buf = await fh.readFile();
    if (BigInt(buf.length) !== stat.size) throw concurrent(path, `its size changed from ${stat.size} to ${buf.length} bytes while it was read`);
    return { text: buf.toString("utf8"), stat };
  } catch (err) {
    throw ioError(err, `reading ${path}`);
  } finally {
    await fh.close().catch(() => {});
  }
}

/** The live file must still be the one read: same inode, size and modification time. */
export async function checkUnchanged(fs: RotateFs, path: string, before: BigIntStats): Promise<void> {
  let now: BigIntStats;
  try {
    now = await fs.stat(path, { bigint: true });
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw concurrent(path, "it was removed or renamed");
    throw err;
  }
  if (now.ino !== before.ino || now.dev !== before.dev) throw concurrent(path, "it was replaced by another file");
  if (now.size !== before.size) throw concurrent(path, `it was written to (size ${before.size} → ${now.size} bytes)`);
  if (now.mtimeNs !== before.mtimeNs) throw concurrent(path, "it was written to (its modification time changed)");
}

export function concurrent(path: string, what: string): CofferError {
  return new CofferError(
    "IO",
    `${path} changed while its records were archived: ${what}, by a process that did not take ${basename(path)}.lock. Nothing was changed; run again, and have writers take the lock (docs/records.md).`,
    { path, reason: "CONCURRENT_CHANGE" },
  );
}

