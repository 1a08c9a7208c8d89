import { lstat, open, readlink } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { FastCdc } from "../chunker/index.js";
import { CofferError, sysCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import type { FilterOptions } from "../snapshot/filters.js";
import { nodeTypeOf } from "../snapshot/node-from-stat.js";
import { resolveExcludeFiles } from "../snapshot/recorded-filters.js";
import type { EntryStat } from "../snapshot/entry-stat.js";
import { type DirScope, Scanner } from "../snapshot/scanner.js";
import type { NodeType } from "../snapshot/tree.js";

/** One entry on disk, as much as comparing it with a tree node needs. */
export interface CurrentEntry {
  type: NodeType;
  /** Permission bits (`& 0o7777`), as trees store them. */
  mode: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  /** Symlinks only. */
  linktarget?: Buffer;
}

/**
 * What a backup of `paths` with `filters` would take now, without reading any file: every
 * entry (the paths themselves included) by its absolute path, as the latin1 string of its
 * bytes. Paths that do not exist are simply absent. Used where a snapshot of the current
 * state would do but none may be written (rollback --dry-run).
 */
export async function scanCurrentState(paths: readonly string[], filters: FilterOptions, opts: { onWarning?: WarningSink; signal?: AbortSignal } = {}): Promise<Map<string, CurrentEntry>> {
  const warn: WarningSink = opts.onWarning ?? (() => undefined);
  const scanner = await Scanner.create(await resolveExcludeFiles(filters), warn);
  const out = new Map<string, CurrentEntry>();
  const add = async (path: Buffer, st: EntryStat): Promise<void> => {
    const type = nodeTypeOf(Number(st.mode));
    if (type === undefined) return;
    const e: CurrentEntry = { type, mode: Number(st.mode) & 0o7777, size: type === "dir" ? 0 : Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino };
    if (type === "symlink") e.linktarget = await readlink(path, { encoding: "buffer" }).catch(() => Buffer.alloc(0));
    out.set(path.toString("latin1"), e);
  };
  const walk = async (dir: Buffer, scope: DirScope): Promise<void> => {
    if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "Interrupted while reading the current state of the files.");
    let listing;
    try {
      listing = await scanner.readDir(dir, scope);
    } catch (err) {
      warn({ code: "UNREADABLE", message: `cannot read directory ${dir.toString()}: ${(err as Error).message}`, path: dir.toString() });
      return;
    }
    for (const e of listing.entries) {
      await add(e.path, e.stat);
      if (e.stat.isDirectory()) await walk(e.path, listing.scope);
    }
  };
  for (const p of paths) {
    const root = Buffer.from(resolvePath(p));
    let st: EntryStat;
    try {
      st = await lstat(root, { bigint: true });
    } catch (err) {
      if (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR") continue;
      throw err;
    }
    if (scanner.excludesRoot(root, st)) continue;
    await add(root, st);
    if (st.isDirectory()) await walk(root, scanner.rootScope(root, st));
  }
  return out;
}

/** The data blob ids a backup into `repo` would give the file at `path` (reads it, writes nothing). */
export async function fileContentIds(repo: Repository, path: string | Buffer): Promise<string[]> {
  const c = repo.config.chunker;
  const cdc = new FastCdc({ min: c.min, avg: c.avg, max: c.max, seed: BigInt(`0x${c.seed}`) });
  const ids: string[] = [];
  const fh = await open(path, "r");
  try {
    let buf = Buffer.alloc(Math.max(2 * c.max, 1 << 20));
    let start = 0;
    let end = 0;
    let eof = false;
    for (;;) {
      if (!eof && end - start < c.max) {
        if (start > 0) {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        }
        if (end === buf.length) buf = Buffer.concat([buf, Buffer.alloc(buf.length)]);
        const { bytesRead } = await fh.read(buf, end, buf.length - end, null);
        if (bytesRead === 0) eof = true;
        end += bytesRead;
        continue;
      }
      if (start === end) break;
      const len = cdc.cut(buf, start, end, eof);
      ids.push(repo.blobId(buf.subarray(start, start + len)).toString("hex"));
      start += len;
    }
  } finally {
    await fh.close();
  }
  return ids;
}
