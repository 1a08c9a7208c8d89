import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { sysCode } from "../core/errors.js";

/** One repository's directory in the cache root (see local-cache.ts). */
export interface CacheDir {
  /** The repository id (the directory's name). */
  id: string;
  dir: string;
  /** When a command last opened the repository through the cache (the directory's mtime). */
  lastUsed: Date;
  bytes: number;
  files: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The repositories' caches under `root`, newest use first. Only directories named by a
 * repository id count: whatever else is in the root (the tag, a file someone put there) is
 * not a cache and is left alone. A missing root has none.
 */
export async function listCaches(root: string): Promise<CacheDir[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if (sysCode(err) === "ENOENT") return [];
    throw err;
  }
  const out: CacheDir[] = [];
  for (const id of names) {
    if (!HEX64.test(id)) continue;
    const dir = join(root, id);
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    out.push({ id, dir, lastUsed: st.mtime, ...(await usage(dir)) });
  }
  return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/**
 * Deletes the caches not used for `maxAgeDays` days before `now` (all of them with 0); returns
 * them. With `dryRun`, deletes nothing. Deleting a cache is always safe: it is only copies.
 */
export async function removeOldCaches(root: string, opts: { maxAgeDays: number; now: Date; dryRun?: boolean }): Promise<CacheDir[]> {
  const limit = opts.now.getTime() - opts.maxAgeDays * 86_400_000;
  const old = (await listCaches(root)).filter((c) => c.lastUsed.getTime() <= limit);
  if (!opts.dryRun) for (const c of old) await rm(c.dir, { recursive: true, force: true });
  return old;
}

async function usage(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p).catch(() => undefined);
        if (st) {
          bytes += st.size;
          files++;
        }
      }
    }
  };
  await walk(dir);
  return { bytes, files };
}
