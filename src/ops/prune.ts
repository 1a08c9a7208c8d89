import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { removeOldTempFiles } from "../backend/local-temp.js";
import type { BlobEntry, BlobType } from "../repository/blob.js";
import { buildIndexFile, readIndexFile } from "../repository/index-file.js";
import { ensureLocksHeld, Lock, stopError, withLockSignal } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import { MasterIndex } from "../repository/master-index.js";
import { decodeHeader, encodeHeader } from "../repository/pack.js";
import type { Repository } from "../repository/repository.js";
import { loadAllSnapshots } from "../snapshot/snapshot-store.js";
import { diffEntries } from "./pack-header.js";
import { markUsed, type UsedBlobs } from "./prune-mark.js";
import { repack } from "./prune-repack.js";
import { type MaxUnused, maxUnusedLimit, type PlanStats, planPrune, type PrunePlan } from "./prune-plan.js";

export { type MaxUnused, maxUnusedLimit } from "./prune-plan.js";

export interface PruneOptions {
  /** Unused space allowed to stay: `"5%"` (default), a number of bytes, or `"unlimited"`. */
  maxUnused?: MaxUnused;
  /** Plan and report; change nothing (takes a shared lock, not an exclusive one). */
  dryRun?: boolean;
  /** Also merge packs under 80 % of the target pack size. */
  repackSmall?: boolean;
  /**
   * Treat these snapshots as gone (ids). For `forget --prune --dry-run`, which shows what
   * prune would free once the forget is done. Only with `dryRun`.
   */
  ignoreSnapshots?: readonly string[];
  /** Wait this long for a conflicting lock (ms; default 0: fail with LOCKED at once). */
  lockWaitMs?: number;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

export interface PruneResult {
  dryRun: boolean;
  /** Snapshot files whose trees were marked (stale copies of rewrites included). */
  snapshots: number;
  stats: PlanStats;
  /** Indexed packs kept as they are. */
  keptPacks: number;
  /** Packs deleted whole (no blob a snapshot reaches), or to be deleted. */
  removedPacks: string[];
  /** Packs whose used blobs were (or would be) copied into new packs, then deleted. */
  repackedPacks: string[];
  /** Packs no index names, older than prune's lock: left by interrupted backups; deleted. */
  unreferencedPacks: string[];
  unreferencedBytes: number;
  /** Packs no index names that appeared after prune started: left alone. */
  newerUnreferencedPacks: number;
  /** Packs the repack wrote, and their bytes. */
  newPacks: string[];
  bytesAdded: number;
  /** Index files written (the last supersedes every old one) and old index files removed. */
  indexWritten: string[];
  indexRemoved: string[];
  /**
   * Bytes freed: sizes of the packs deleted minus those of the new packs. For a dry run, what
   * would be freed (the new packs' size estimated).
   */
  bytesFreed: number;
  /**
   * Temp files (local repositories) that killed runs left, older than a day: removed (or to
   * be removed), and their bytes. Younger ones may be a running writer's and stay.
   */
  tempFiles: string[];
  tempBytes: number;
  /** Nothing needed doing. */
  nothingToDo: boolean;
}

/** Blobs per index file written, so no single file grows without bound. */
const BLOBS_PER_FILE = 100_000;

/**
 * Removes data no snapshot reaches (DESIGN.md "Retention"; format §14 rule 4).
 *
 * Order, each step complete before the next starts, so that a crash at any moment leaves a
 * repository in which every snapshot is whole:
 *  1. list the packs (before the lock: only these may be deleted as unreferenced, being
 *     older than the lock), take the exclusive lock, read every index file and snapshot;
 *  2. mark every blob the snapshots reach; plan (pure): packs to delete, to repack, to keep;
 *     refuse (nothing written) when a blob a snapshot needs is in no pack;
 *  3. copy the used blobs of the packs to repack into new packs (stored bytes as they are,
 *     each verified against its id first) and store them (with an index file for them);
 *  4. write the new index: every pack that stays, the new ones included; the last file
 *     supersedes every index file read in 1 and the one written in 3;
 *  5. check, from the index files as stored, that every used blob is in a pack that stays;
 *  6. delete the old index files; 7. delete the packs no longer referenced;
 *  8. (local repositories) delete temp files killed runs left, if older than a day.
 * Snapshots are never changed.
 */
export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneResult> {
  const limit = maxUnusedLimit(opts.maxUnused ?? "5%");
  const dryRun = opts.dryRun === true;
  if (opts.ignoreSnapshots?.length && !dryRun) throw new CofferError("USAGE", "Snapshots can be left out of a prune only in a dry run.");
  const progress = opts.progress ?? silentProgress;
  const warn = (w: Warning): void => opts.onWarning?.(w);
  // Listed before the lock exists: a pack in this list no index names cannot belong to a
  // backup that is still running (it would hold a lock, and taking ours would fail).
  const olderThanLock = await listPacks(repo);
  const lock = await Lock.acquire(repo, {
    exclusive: !dryRun,
    onWarning: warn,
    ...(opts.lockWaitMs !== undefined ? { waitMs: opts.lockWaitMs } : {}),
  });
  try {
    // A lost lock stops the long phases (reading trees, repacking) as an interruption does, with LOCK_LOST.
    const signal = withLockSignal(opts.signal, lock);
    const result = await new Pruner(repo, { ...opts, ...(signal ? { signal } : {}) }, progress, warn, dryRun).run(limit, olderThanLock);
    const root = repo.backend.localRoot?.();
    if (root !== undefined) {
      const temp = await removeOldTempFiles(root, repo.clock(), dryRun);
      result.tempFiles = temp.removed.map((f) => f.path);
      result.tempBytes = temp.removed.reduce((n, f) => n + f.size, 0);
      if (temp.removed.length > 0) result.nothingToDo = false;
    }
    return result;
  } finally {
    progress.done();
    await lock.release();
  }
}

async function listPacks(repo: Repository): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const f of repo.backend.list("data")) out.set(f.name, f.size);
  return out;
}

class Pruner {
  /** Entries of every pack the current index files name (header-encoded). */
  readonly packEntries = new Map<string, Buffer>();
  oldIndexFiles: string[] = [];
  /** Old index files some other index file supersedes (an interrupted prune or repair). */
  supersededLeftovers: string[] = [];

  constructor(
    readonly repo: Repository,
    readonly opts: PruneOptions,
    readonly progress: Progress,
    readonly warn: (w: Warning) => void,
    readonly dryRun: boolean,
  ) {}

  #throwIfAborted(): void {
    if (this.opts.signal?.aborted) throw stopError(this.opts.signal, "Prune was interrupted before it deleted anything; run it again.");
  }

  async run(limit: (used: number) => number, olderThanLock: Map<string, number>): Promise<PruneResult> {
    const { repo } = this;
    await this.#readIndex();
    const onDisk = await listPacks(repo);
    const missingPacks = [...this.packEntries.keys()].filter((p) => !onDisk.has(p)).sort();
    if (missingPacks.length > 0) {
      throw new CofferError(
        "CORRUPT",
        `The index names ${missingPacks.length} pack${missingPacks.length === 1 ? "" : "s"} that ${missingPacks.length === 1 ? "does" : "do"} not exist (${missingPacks.slice(0, 3).map((p) => p.slice(0, 8)).join(", ")}${missingPacks.length > 3 ? ", …" : ""}); nothing was deleted. Run "coffer check", then "coffer repair index".`,
        { packs: missingPacks },
      );
    }

    this.#throwIfAborted();
    const ignored = new Set(this.opts.ignoreSnapshots ?? []);
    const snapshots = (await loadAllSnapshots(repo)).filter((s) => !ignored.has(s.id));
    for (const s of snapshots) {
      if (typeof s.tree !== "string") throw new CofferError("CORRUPT", `Snapshot ${s.id.slice(0, 8)} has no tree; nothing was deleted. Run "coffer check".`, { snapshot: s.id });
    }
    const used = await markUsed(repo, snapshots.map((s) => s.tree), {
      concurrency: repo.backend.properties.connections * 2,
      progress: this.progress,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    });

    const packs = new Map<string, { size: number; entries: Buffer }>();
    for (const [p, entries] of this.packEntries) packs.set(p, { size: onDisk.get(p) ?? 0, entries });
    const plan = planPrune({ packs, used, maxUnused: limit, repackSmall: this.opts.repackSmall === true, packSize: repo.config.pack_size });
    if (plan.missingCount > 0) {
      const first = plan.missing[0] as { id: string; type: BlobType };
      throw new CofferError(
        "CORRUPT",
        `${plan.missingCount} blob${plan.missingCount === 1 ? "" : "s"} that snapshots need ${plan.missingCount === 1 ? "is" : "are"} in no pack (the first: ${first.type} blob ${first.id.slice(0, 8)}); nothing was deleted. Run "coffer check".`,
        { missing: plan.missing },
      );
    }

    const unreferenced = [...olderThanLock.keys()].filter((p) => onDisk.has(p) && !this.packEntries.has(p)).sort();
    const unreferencedBytes = unreferenced.reduce((n, p) => n + (onDisk.get(p) ?? 0), 0);
    const newer = [...onDisk.keys()].filter((p) => !olderThanLock.has(p) && !this.packEntries.has(p)).length;
    const rewriteIndex = plan.remove.length > 0 || plan.repack.length > 0;
    const result: PruneResult = {
      dryRun: this.dryRun,
      snapshots: snapshots.length,
      stats: plan.stats,
      keptPacks: plan.keep.length,
      removedPacks: plan.remove,
      repackedPacks: plan.repack,
      unreferencedPacks: unreferenced,
      unreferencedBytes,
      newerUnreferencedPacks: newer,
      newPacks: [],
      bytesAdded: 0,
      indexWritten: [],
      indexRemoved: [],
      bytesFreed: plan.stats.removeBytes + plan.stats.repackBytes + unreferencedBytes - plan.stats.newPackBytes,
      tempFiles: [],
      tempBytes: 0,
      nothingToDo: !rewriteIndex && unreferenced.length === 0 && this.supersededLeftovers.length === 0,
    };
    if (this.dryRun || result.nothingToDo) return result;

    this.#throwIfAborted();
    let checkpointIndex: string[] = [];
    const newPacks = new Map<string, BlobEntry[]>();
    if (plan.repack.length > 0) {
      const saver = await repack(repo, plan, newPacks, { progress: this.progress, warn: this.warn, throwIfAborted: () => this.#throwIfAborted() });
      checkpointIndex = saver.indexFiles;
      result.newPacks = [...newPacks.keys()].sort();
      result.bytesAdded = saver.bytesAdded;
    }

    const drop = new Set([...plan.remove, ...plan.repack]);
    if (rewriteIndex) {
      const files = this.#newIndexFiles(plan, newPacks, [...this.oldIndexFiles, ...checkpointIndex]);
      // Before anything is written: the planned index must hold every used blob.
      this.#verify(files.map((f) => readIndexFile(f, "(planned)")), used, drop);
      this.#throwIfAborted();
      for (const [i, f] of files.entries()) {
        result.indexWritten.push(await repo.saveJson("index", f));
        this.progress.update({ phase: "prune:index", filesDone: i + 1, filesTotal: files.length });
      }
      // And as stored, read back, before the first deletion.
      const stored = await mapLimit(result.indexWritten, repo.backend.properties.connections, async (id) => readIndexFile(await repo.loadJson("index", id), id));
      try {
        this.#verify(stored, used, drop);
      } catch (err) {
        throw new CofferError("CORRUPT", `The new index does not hold every blob the snapshots need (${(err as Error).message}); nothing was deleted. Run "coffer repair index".`);
      }
    }

    // Deleting under a lock someone removed could delete what a backup that started since needs.
    await ensureLocksHeld(repo);
    // Old index files first: until they are gone they still name the packs about to go.
    const oldFiles = rewriteIndex ? [...this.oldIndexFiles, ...checkpointIndex, ...this.supersededLeftovers] : this.supersededLeftovers;
    const written = new Set(result.indexWritten);
    result.indexRemoved = await this.#remove("index", oldFiles.filter((id) => !written.has(id)));
    const packsGone = [...(rewriteIndex ? drop : []), ...unreferenced].filter((p) => !newPacks.has(p));
    await this.#remove("data", packsGone);
    result.bytesFreed = plan.stats.removeBytes + plan.stats.repackBytes + unreferencedBytes - result.bytesAdded;
    return result;
  }

  /** Reads every index file; the ones another supersedes are only remembered, to be removed. */
  async #readIndex(): Promise<void> {
    const { repo } = this;
    const ids = await repo.listIds("index");
    let done = 0;
    const files = await mapLimit(ids, repo.backend.properties.connections, async (id) => {
      try {
        return { id, file: readIndexFile(await repo.loadJson("index", id), id) };
      } catch (err) {
        if (repo.backend.isNotFound(err)) return undefined;
        const why = err instanceof Error ? err.message.replace(/\.$/, "") : String(err);
        throw new CofferError("CORRUPT", `Index file ${id.slice(0, 8)} cannot be read (${why}); nothing was deleted. Run "coffer repair index" first.`, { index: id });
      } finally {
        this.progress.update({ phase: "prune:index", filesDone: ++done, filesTotal: ids.length });
      }
    });
    const good = files.filter((f) => f !== undefined);
    const superseded = new Set(good.flatMap((f) => f.file.supersedes));
    for (const f of good) {
      if (superseded.has(f.id)) {
        this.supersededLeftovers.push(f.id);
        continue;
      }
      this.oldIndexFiles.push(f.id);
      const loaded = repo.index.files.has(f.id);
      for (const [pack, blobs] of f.file.packs) {
        this.#addPack(pack, blobs);
        if (!loaded) repo.index.addPack(pack, blobs);
      }
      repo.index.files.add(f.id);
    }
  }

  #addPack(pack: string, blobs: BlobEntry[]): void {
    const known = this.packEntries.get(pack);
    const add = known ? diffEntries(blobs, decodeHeader(known, `pack ${pack.slice(0, 8)}`)).missing : blobs;
    if (known && add.length === 0) return;
    this.packEntries.set(pack, known ? Buffer.concat([known, encodeHeader(add)]) : encodeHeader(blobs));
  }

  /** The new index: every pack that stays and every new pack; only the last file supersedes. */
  #newIndexFiles(plan: PrunePlan, newPacks: Map<string, BlobEntry[]>, supersedes: string[]): ReturnType<typeof buildIndexFile>[] {
    const all: [string, BlobEntry[]][] = [...plan.keep.map((p): [string, BlobEntry[]] => [p, plan.entries(p)]), ...newPacks.entries()];
    const groups: [string, BlobEntry[]][][] = [];
    let current: [string, BlobEntry[]][] = [];
    let blobs = 0;
    for (const p of all) {
      if (current.length > 0 && blobs + p[1].length > BLOBS_PER_FILE) {
        groups.push(current);
        current = [];
        blobs = 0;
      }
      current.push(p);
      blobs += p[1].length;
    }
    groups.push(current);
    return groups.map((g, i) => buildIndexFile(g, i === groups.length - 1 ? [...new Set(supersedes)] : []));
  }

  /** Throws unless every used blob is in the given index files, in a pack that is not dropped. */
  #verify(files: { packs: [string, BlobEntry[]][] }[], used: UsedBlobs, drop: ReadonlySet<string>): void {
    const idx = new MasterIndex();
    for (const f of files) {
      for (const [pack, blobs] of f.packs) {
        if (drop.has(pack)) throw new Error(`pack ${pack.slice(0, 8)}, about to be deleted, is in the new index`);
        idx.addPack(pack, blobs);
      }
    }
    for (const [type, set] of [["tree", used.trees], ["data", used.data]] as const) {
      for (const id of set.values()) {
        if (!idx.entriesOf(id).some((e) => e.type === type)) throw new Error(`${type} blob ${Buffer.from(id).toString("hex").slice(0, 8)} is missing`);
      }
    }
  }

  async #remove(type: "index" | "data", ids: string[]): Promise<string[]> {
    const { repo } = this;
    let done = 0;
    const removed: string[] = [];
    await mapLimit(ids, repo.backend.properties.connections, async (id) => {
      try {
        await repo.backend.remove({ type, name: id });
        removed.push(id);
      } catch (err) {
        if (!repo.backend.isNotFound(err)) throw err;
      } finally {
        this.progress.update({ phase: type === "index" ? "prune:remove-index" : "prune:remove-packs", filesDone: ++done, filesTotal: ids.length });
      }
    });
    return removed.sort();
  }
}
