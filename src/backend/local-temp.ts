import { lstat, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ioError, sysCode } from "../core/errors.js";
import { FILE_TYPES, typeDir } from "./backend.js";

/**
 * Temp files of a local repository. Every local write goes to a `.tmp-*` file next to its
 * destination (LocalBackend.save in the type's directory or `data/<2 hex>/`, LocalFileWriter
 * in `data/`) and is renamed into place when complete, so a process killed mid-write leaves
 * its temp file behind. `list` never shows them; prune removes the old ones.
 */
export const TEMP_PREFIX = ".tmp-";

/**
 * Temp files younger than this may belong to a writer that is still running (a backup whose
 * lock went stale, `key add`, `init`), so they are never removed.
 */
export const TEMP_MIN_AGE_MS = 24 * 60 * 60 * 1000;

export interface TempFile {
  /** Path relative to the repository's directory. */
  path: string;
  size: number;
  mtime: Date;
}

/** The temp files in the repository's directories, with sizes and modification times. */
export async function listTempFiles(root: string): Promise<TempFile[]> {
  const dirs = ["", ...FILE_TYPES.filter((t) => t !== "config").map(typeDir)];
  dirs.push(...Array.from({ length: 256 }, (_, i) => join("data", i.toString(16).padStart(2, "0"))));
  const out: TempFile[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(join(root, dir));
    } catch (err) {
      if (sysCode(err) === "ENOENT") continue;
      throw ioError(err, `listing ${join(root, dir)}`);
    }
    for (const name of names) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const path = join(dir, name);
      try {
        const st = await lstat(join(root, path));
        if (st.isFile()) out.push({ path, size: st.size, mtime: st.mtime });
      } catch (err) {
        if (sysCode(err) !== "ENOENT") throw ioError(err, `reading ${join(root, path)}`); // else renamed or removed meanwhile
      }
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * Removes the temp files last modified more than TEMP_MIN_AGE_MS before `now` (only lists
 * them with `dryRun`). Returns those (being) removed and how many younger ones were left.
 */
export async function removeOldTempFiles(root: string, now: Date, dryRun = false): Promise<{ removed: TempFile[]; young: number }> {
  const all = await listTempFiles(root);
  const old = all.filter((f) => now.getTime() - f.mtime.getTime() > TEMP_MIN_AGE_MS);
  const removed: TempFile[] = [];
  for (const f of old) {
    if (!dryRun) {
      try {
        await unlink(join(root, f.path));
      } catch (err) {
        if (sysCode(err) === "ENOENT") continue;
        throw ioError(err, `removing ${join(root, f.path)}`);
      }
    }
    removed.push(f);
  }
  return { removed, young: all.length - old.length };
}
