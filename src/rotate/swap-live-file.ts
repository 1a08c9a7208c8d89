import * as fsSync from "node:fs";
import { basename, join } from "node:path";
import { sysCode } from "../core/errors.js";
import { copyDirs } from "./find-copies.js";
import { COMPRESSED_EXT, datedName } from "./rotated-name.js";
import type { ResolvedRule } from "./rule.js";

/**
 * The rotating stream's rotation itself, synchronous so that no write lands between its steps:
 * renames the live file `path` to a dated copy name free in the rule's copy directories (a
 * counter on collision, compressed names counted too), opens a new live file with the old
 * one's mode and closes `fd`. Across file systems it copies the file and empties it instead
 * (every byte in it was written through `fd`), and `fd` stays. Returns the copy's path and the
 * descriptor to write to now. Throws what the file system throws; nothing is lost then.
 */
export function swapLiveFile(path: string, fd: number, fileMode: number, rule: ResolvedRule, when: { now: Date; started: Date }): { target: string; fd: number } {
  const dirs = copyDirs(path, rule);
  const dir = rule.keep > 0 ? dirs.backups : (dirs.archive ?? dirs.backups);
  const live = basename(path);
  fsSync.mkdirSync(dir, { recursive: true });
  const taken = new Set<string>();
  for (const d of new Set([dirs.backups, dirs.archive ?? dirs.backups])) for (const n of readdirOrEmpty(d)) taken.add(n);
  let counter = 0;
  let name = datedName(live, rule, when, 0);
  while ([name, ...Object.values(COMPRESSED_EXT).map((e) => name + e)].some((n) => taken.has(n))) name = datedName(live, rule, when, ++counter);
  const target = join(dir, name);
  try {
    fsSync.renameSync(path, target);
    const fresh = fsSync.openSync(path, "a", fileMode);
    // Past the rename nothing may throw: the caller must write to the new file from now on.
    try {
      fsSync.fchmodSync(fresh, fileMode); // the umask narrowed open's mode
    } catch {
      // the file keeps the umask's mode
    }
    try {
      fsSync.closeSync(fd);
    } catch {
      // released all the same
    }
    return { target, fd: fresh };
  } catch (err) {
    if (sysCode(err) !== "EXDEV") throw err;
    // Another file system: copy, then empty our own file (every byte of it is ours and written).
    fsSync.copyFileSync(path, target, fsSync.constants.COPYFILE_EXCL);
    fsSync.ftruncateSync(fd, 0);
    return { target, fd };
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fsSync.readdirSync(dir);
  } catch {
    return [];
  }
}
