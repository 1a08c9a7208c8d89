import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import type { BlobEntry } from "../repository/blob.js";
import { buildIndexFile } from "../repository/index-file.js";
import { Lock } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import { readPackHeader } from "./pack-header.js";

export interface RepairIndexOptions {
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

export interface RepairIndexResult {
  /** Index files written; the last one supersedes every index file there was before. */
  written: string[];
  /** Old index files removed. */
  removed: string[];
  packsIndexed: number;
  blobsIndexed: number;
  /** Packs whose header could not be read; their blobs are not in the new index. */
  damagedPacks: string[];
}

/** Blobs per index file written, so no single file grows without bound. */
const BLOBS_PER_FILE = 100_000;

/**
 * `repair index`: rebuilds the index from the packs alone, reading only each pack's tail
 * (its header), under an exclusive lock. The new index files are written first (the last of
 * them lists every old index file in `supersedes`), the old files removed after, so a crash
 * at any point leaves an index that loads: old and new together, or the new alone.
 * `repo.index` is not changed; open the repository again to use the new index.
 */
export async function repairIndex(repo: Repository, opts: RepairIndexOptions = {}): Promise<RepairIndexResult> {
  const progress = opts.progress ?? silentProgress;
  const warn = (w: Warning): void => opts.onWarning?.(w);
  const lock = await Lock.acquire(repo, { exclusive: true, onWarning: warn });
  try {
    const old = await repo.listIds("index");
    const packs: { name: string; size: number }[] = [];
    for await (const f of repo.backend.list("data")) packs.push(f);
    packs.sort((a, b) => a.name.localeCompare(b.name));

    let done = 0;
    const damagedPacks: string[] = [];
    const headers = await mapLimit(packs, repo.backend.properties.connections * 2, async (p) => {
      throwIfAborted(opts.signal);
      try {
        return [p.name, await readPackHeader(repo.backend, repo.crypter, p.name, p.size)] as [string, BlobEntry[]];
      } catch (err) {
        if (!(err instanceof CofferError) || err.code !== "CORRUPT") throw err;
        damagedPacks.push(p.name);
        warn({ code: "DAMAGED", message: `pack ${p.name.slice(0, 8)} has no readable header (${err.message.replace(/\.$/, "")}); its blobs are left out of the index`, path: p.name });
        return undefined;
      } finally {
        progress.update({ phase: "repair-index:packs", filesDone: ++done, filesTotal: packs.length });
      }
    });
    const good = headers.filter((h) => h !== undefined);

    const groups: [string, BlobEntry[]][][] = [];
    let current: [string, BlobEntry[]][] = [];
    let blobs = 0;
    for (const h of good) {
      if (current.length && blobs + h[1].length > BLOBS_PER_FILE) {
        groups.push(current);
        current = [];
        blobs = 0;
      }
      current.push(h);
      blobs += h[1].length;
    }
    if (current.length || old.length) groups.push(current);

    throwIfAborted(opts.signal);
    const written: string[] = [];
    for (const [i, g] of groups.entries()) {
      // Only the last file supersedes: until it exists, the old files still describe every pack.
      const supersedes = i === groups.length - 1 ? old.filter((id) => !written.includes(id)) : [];
      written.push(await repo.saveJson("index", buildIndexFile(g, supersedes)));
      progress.update({ phase: "repair-index:write", filesDone: i + 1, filesTotal: groups.length });
    }

    const removed: string[] = [];
    for (const id of old) {
      if (written.includes(id)) continue; // the same content written again has the same name
      try {
        await repo.backend.remove({ type: "index", name: id });
        removed.push(id);
      } catch (err) {
        if (repo.backend.isNotFound(err)) continue;
        warn({ code: "SKIPPED", message: `old index file ${id.slice(0, 8)} could not be removed (${err instanceof Error ? err.message : String(err)}); it is superseded, so it does no harm`, path: id });
      }
    }
    return {
      written,
      removed,
      packsIndexed: good.length,
      blobsIndexed: good.reduce((n, [, e]) => n + e.length, 0),
      damagedPacks: damagedPacks.sort(),
    };
  } finally {
    progress.done();
    await lock.release();
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CofferError("INTERRUPTED", "The index repair was interrupted before it wrote anything new; run it again.");
}
