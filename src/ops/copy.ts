import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning } from "../core/warning.js";
import type { BlobType } from "../repository/blob.js";
import { idHashOf } from "../repository/config.js";
import { Lock, stopError, withLockSignal } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import type { Snapshot, SnapshotWithId } from "../snapshot/snapshot.js";
import { listSnapshots, loadAllSnapshots, saveSnapshot, type SnapshotFilter } from "../snapshot/snapshot-store.js";
import { decodeTree } from "../snapshot/tree.js";

/**
 * `coffer copy`: copies snapshots from one repository into another that shares its chunker
 * and id parameters (`coffer init --copy-params-from`), so blob ids mean the same in both and
 * only blobs the target lacks are sent.
 *
 * Order, so that an interrupted copy is safe and its re-run sends only what did not arrive:
 * blobs go into packs, packs are indexed in checkpoints (PackSaver), and a snapshot file is
 * written only after every blob it reaches is packed and indexed. A snapshot is recognised in
 * the target by `original ?? id`, which the copy keeps from the source. Every tree is walked
 * again on a re-run (a tree present in the target says nothing about its subtrees after an
 * interruption); only blobs already in the target's index are skipped.
 */
export interface CopyOptions {
  filter?: SnapshotFilter;
  /** Work out what would be copied, write nothing. */
  dryRun?: boolean;
  /** Index checkpoint every N packs (PackSaver's default 32). */
  checkpointPacks?: number;
  progress?: Progress;
  onWarning?: (w: Warning) => void;
  signal?: AbortSignal;
}

export interface CopiedSnapshot {
  /** The id in the source repository. */
  from: string;
  /** The new id in the target (undefined on a dry run). */
  to?: string;
  original: string;
  time: string;
  hostname: string;
  paths: string[];
}

export interface CopyResult {
  copied: CopiedSnapshot[];
  /** Source snapshots matching the filter that the target already holds. */
  skipped: number;
  blobsAdded: number;
  /** Stored bytes of the blobs added (packs, as written). */
  bytesAdded: number;
  /** Blobs the snapshots reach that the target already had. */
  blobsPresent: number;
  dryRun: boolean;
}

/** Copies the snapshots of `from` matching `opts.filter` that `to` does not hold yet. */
export async function copy(from: Repository, to: Repository, opts: CopyOptions = {}): Promise<CopyResult> {
  checkSameParams(from, to);
  const warn = (w: Warning): void => opts.onWarning?.(w);
  const fromLock = await Lock.acquire(from, { exclusive: false, onWarning: warn });
  try {
    const toLock = await Lock.acquire(to, { exclusive: false, onWarning: warn });
    try {
      // Either lock lost stops the copy at the next snapshot or blob, with LOCK_LOST.
      const signal = withLockSignal(withLockSignal(opts.signal, fromLock), toLock);
      return await run(from, to, { ...opts, ...(signal ? { signal } : {}) });
    } finally {
      await toLock.release();
    }
  } finally {
    await fromLock.release();
  }
}

/** Throws USAGE unless both repositories name blobs the same way. */
export function checkSameParams(from: Repository, to: Repository): void {
  const a = from.config;
  const b = to.config;
  const same = a.id_key === b.id_key && idHashOf(a) === idHashOf(b) && a.chunker.seed === b.chunker.seed && a.chunker.min === b.chunker.min && a.chunker.avg === b.chunker.avg && a.chunker.max === b.chunker.max;
  if (!same) {
    throw new CofferError(
      "USAGE",
      `The repositories ${from.backend.location} and ${to.backend.location} do not share chunker and id parameters, so blobs cannot be copied; create the target with "coffer init -r ${to.backend.location} --copy-params-from ${from.backend.location}".`,
      { from: from.backend.location, to: to.backend.location },
    );
  }
}

export function originalOf(s: Pick<SnapshotWithId, "id" | "original">): string {
  return typeof s.original === "string" && s.original !== "" ? s.original : s.id;
}

async function run(from: Repository, to: Repository, opts: CopyOptions): Promise<CopyResult> {
  const progress = opts.progress ?? silentProgress;
  if (from.index.files.size === 0) await from.loadIndex();
  if (to.index.files.size === 0) await to.loadIndex();
  const present = new Set((await loadAllSnapshots(to)).map(originalOf));
  const wanted = await listSnapshots(from, opts.filter ?? {});
  const todo = wanted.filter((s) => !present.has(originalOf(s)));
  const result: CopyResult = { copied: [], skipped: wanted.length - todo.length, blobsAdded: 0, bytesAdded: 0, blobsPresent: 0, dryRun: opts.dryRun === true };
  const saver = new PackSaver(to, { ...(opts.checkpointPacks ? { checkpointPacks: opts.checkpointPacks } : {}) });
  const copier = new BlobCopier(from, to, saver, progress, opts);
  try {
    for (const [i, s] of todo.entries()) {
      progress.update({ phase: "copy", filesDone: i, filesTotal: todo.length, current: s.id.slice(0, 8) });
      await copier.copyTree(s.tree);
      const original = originalOf(s);
      const entry: CopiedSnapshot = { from: s.id, original, time: s.time, hostname: s.hostname, paths: s.paths };
      if (!opts.dryRun) {
        // Packs and their index before the snapshot that needs them.
        await saver.flush();
        const { id: _id, ...rest } = s;
        const snap: Snapshot = { ...rest, original };
        entry.to = await saveSnapshot(to, snap);
      }
      result.copied.push(entry);
    }
    if (!opts.dryRun) await saver.flush();
  } catch (err) {
    await saver.abandon().catch(() => undefined);
    throw err;
  } finally {
    progress.done();
  }
  result.blobsAdded = opts.dryRun ? copier.wouldAdd : saver.blobsAdded;
  result.bytesAdded = opts.dryRun ? copier.wouldAddBytes : saver.bytesAdded;
  result.blobsPresent = copier.present;
  return result;
}

/** Walks trees of the source and packs every blob the target lacks, each verified on the way. */
class BlobCopier {
  /** Trees walked in this run (hex): shared subtrees are walked once. */
  readonly #seen = new Set<string>();
  /** Data blobs handled in this run (hex). */
  readonly #seenData = new Set<string>();
  /** addBlob calls run one at a time (a pack builder is not shared between concurrent adds). */
  #chain: Promise<unknown> = Promise.resolve();
  present = 0;
  wouldAdd = 0;
  wouldAddBytes = 0;

  constructor(
    private readonly from: Repository,
    private readonly to: Repository,
    private readonly saver: PackSaver,
    private readonly progress: Progress,
    private readonly opts: CopyOptions,
  ) {}

  /** Copies the tree `root` and everything below it, level by level. */
  async copyTree(root: string): Promise<void> {
    let level = [root].filter((t) => this.#visit(t));
    // Breadth-first, a level's trees loaded concurrently.
    while (level.length > 0) {
      this.#checkSignal();
      const loaded = await mapLimit(level, this.from.backend.properties.connections, async (id) => ({ id, plain: await this.from.loadBlob("tree", Buffer.from(id, "hex")) }));
      const next: string[] = [];
      const data: string[] = [];
      for (const t of loaded) {
        for (const n of decodeTree(t.plain).nodes) {
          if (n.type === "dir" && n.subtree !== undefined && this.#visit(n.subtree)) next.push(n.subtree);
          for (const c of n.content ?? []) {
            if (this.#seenData.has(c)) continue;
            this.#seenData.add(c);
            data.push(c);
          }
        }
      }
      await this.#copyData(data);
      for (const t of loaded) await this.#add("tree", t.id, t.plain);
      level = next;
    }
  }

  #visit(tree: string): boolean {
    if (this.#seen.has(tree)) return false;
    this.#seen.add(tree);
    return true;
  }

  async #copyData(ids: string[]): Promise<void> {
    const missing = ids.filter((id) => {
      if (!this.to.index.has(Buffer.from(id, "hex"))) return true;
      this.present++;
      return false;
    });
    let done = 0;
    await mapLimit(missing, this.from.backend.properties.connections, async (id) => {
      this.#checkSignal();
      if (this.opts.dryRun) {
        this.wouldAdd++;
        this.wouldAddBytes += this.from.index.entriesOf(Buffer.from(id, "hex"))[0]?.length ?? 0;
        return;
      }
      const plain = await this.from.loadBlob("data", Buffer.from(id, "hex"));
      await this.#add("data", id, plain);
      this.progress.update({ phase: "copy data", filesDone: ++done, filesTotal: missing.length });
    });
  }

  /** Packs one verified blob for the target, unless it has it. */
  async #add(type: BlobType, id: string, plain: Buffer): Promise<void> {
    const bid = Buffer.from(id, "hex");
    if (type === "tree") {
      if (this.to.index.has(bid)) {
        this.present++;
        return;
      }
      if (this.opts.dryRun) {
        this.wouldAdd++;
        this.wouldAddBytes += this.from.index.entriesOf(bid)[0]?.length ?? 0;
        return;
      }
    }
    const p = this.#chain.then(async () => {
      const got = await this.saver.addBlob(type, plain);
      if (!got.equals(bid)) {
        throw new CofferError("CORRUPT", `${type} blob ${id.slice(0, 8)} gets another id in the target; the repositories do not share their id key.`, { blob: id });
      }
    });
    this.#chain = p.catch(() => undefined);
    await p;
  }

  #checkSignal(): void {
    if (this.opts.signal?.aborted) throw stopError(this.opts.signal, "The copy was interrupted; run it again to finish (what arrived is kept).");
  }
}
