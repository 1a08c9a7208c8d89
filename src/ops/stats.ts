import { createHash } from "node:crypto";
import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Repository } from "../repository/repository.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { listSnapshots } from "../snapshot/snapshot-store.js";
import type { TreeNode } from "../snapshot/tree.js";
import { loadTreeNodes } from "../snapshot/walker.js";

/**
 * Sizes of snapshots, as restic's `stats` counts them, plus totals of the repository:
 *
 * - `restore-size`: what a restore would write: files (a hard-linked file once per snapshot),
 *   directories, other entries, and the bytes of the files. Summed over the snapshots.
 * - `files-by-contents`: files with distinct content (the same blob list) across the snapshots,
 *   and their bytes: what the data would take without deduplication inside files.
 * - `raw-data`: the distinct blobs the snapshots reference (data and tree), their plain size
 *   and their stored size (compressed and encrypted): what the snapshots occupy in the
 *   repository, and how well compression did.
 *
 * A tree reached from several snapshots or directories is read once.
 */
export type StatsMode = "restore-size" | "raw-data" | "files-by-contents";

export const STATS_MODES: readonly StatsMode[] = ["restore-size", "raw-data", "files-by-contents"];

export interface StatsOptions {
  /** The snapshots to count; default every snapshot of the repository. */
  snapshots?: readonly SnapshotWithId[];
  mode?: StatsMode;
  progress?: Progress;
  signal?: AbortSignal;
}

export interface RepositoryTotals {
  snapshots: number;
  packs: number;
  /** Bytes of all pack files as stored. */
  packBytes: number;
  indexFiles: number;
  /** Index entries (a blob stored twice, after an interrupted backup, counts twice). */
  blobs: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Stored and plain bytes of all indexed blobs. */
  blobStoredBytes: number;
  blobRawBytes: number;
}

export interface StatsResult {
  mode: StatsMode;
  /** Ids of the snapshots counted. */
  snapshots: string[];
  /** restore-size: files (hard links once); files-by-contents: distinct contents; raw-data: 0. */
  files: number;
  /** restore-size only. */
  dirs: number;
  /** restore-size only: symlinks, devices, fifos, sockets. */
  others: number;
  /** restore-size and files-by-contents: bytes of those files; raw-data: plain bytes of the blobs. */
  totalSize: number;
  /** raw-data only. */
  raw?: {
    blobs: number;
    dataBlobs: number;
    treeBlobs: number;
    /** Plain bytes of the blobs. */
    rawBytes: number;
    /** Bytes the blobs take in packs (compressed, encrypted). */
    storedBytes: number;
    /** rawBytes / storedBytes. */
    compressionRatio: number;
    /** 1 - storedBytes / rawBytes, in percent. */
    spaceSaving: number;
    /** Referenced blobs the index does not list (run `coffer check`). */
    missing: number;
  };
  repository: RepositoryTotals;
}

const TREE_LOADS = 16;

export async function stats(repo: Repository, opts: StatsOptions = {}): Promise<StatsResult> {
  const mode = opts.mode ?? "restore-size";
  if (!STATS_MODES.includes(mode)) throw new CofferError("USAGE", `"${mode}" is not a stats mode; use ${STATS_MODES.join(", ")}.`);
  if (repo.index.files.size === 0) await repo.loadIndex();
  const snapshots = opts.snapshots ?? (await listSnapshots(repo));
  const progress = opts.progress ?? silentProgress;
  const loader = new LimitedTreeLoader(repo, progress, opts.signal);
  const result: StatsResult = { mode, snapshots: snapshots.map((s) => s.id), files: 0, dirs: 0, others: 0, totalSize: 0, repository: await repositoryTotals(repo) };
  try {
    if (mode === "restore-size") {
      const sizer = new RestoreSizer(loader);
      for (const s of snapshots) {
        const agg = await sizer.size(s.tree);
        result.files += agg.files + agg.links.size;
        result.dirs += agg.dirs;
        result.others += agg.others;
        result.totalSize += agg.bytes;
        for (const size of agg.links.values()) result.totalSize += size;
      }
    } else {
      const contents = new Map<string, number>();
      const data = new Set<string>();
      const trees = new Set<string>();
      await visitDistinctTrees(
        loader,
        snapshots.map((s) => s.tree),
        (treeId, nodes) => {
          trees.add(treeId);
          for (const n of nodes) {
            if (n.type !== "file") continue;
            const content = n.content ?? [];
            if (mode === "raw-data") for (const id of content) data.add(id);
            else contents.set(contentKey(content), n.size);
          }
        },
      );
      if (mode === "files-by-contents") {
        result.files = contents.size;
        for (const size of contents.values()) result.totalSize += size;
      } else {
        const raw = { blobs: data.size + trees.size, dataBlobs: data.size, treeBlobs: trees.size, rawBytes: 0, storedBytes: 0, compressionRatio: 0, spaceSaving: 0, missing: 0 };
        for (const set of [data, trees]) {
          for (const id of set) {
            const e = repo.index.lookup(Buffer.from(id, "hex"));
            if (e === undefined) {
              raw.missing++;
              continue;
            }
            raw.rawBytes += e.rawLength;
            raw.storedBytes += e.length;
          }
        }
        raw.compressionRatio = raw.storedBytes > 0 ? raw.rawBytes / raw.storedBytes : 0;
        raw.spaceSaving = raw.rawBytes > 0 ? (1 - raw.storedBytes / raw.rawBytes) * 100 : 0;
        result.totalSize = raw.rawBytes;
        result.raw = raw;
      }
    }
  } finally {
    progress.done();
  }
  return result;
}

/** Totals of the repository as a whole, whatever snapshots are selected. */
export async function repositoryTotals(repo: Repository): Promise<RepositoryTotals> {
  if (repo.index.files.size === 0) await repo.loadIndex();
  let packs = 0;
  let packBytes = 0;
  for await (const f of repo.backend.list("data")) {
    packs++;
    packBytes += f.size;
  }
  const t: RepositoryTotals = {
    snapshots: (await repo.listIds("snapshot")).length,
    packs,
    packBytes,
    indexFiles: repo.index.files.size,
    blobs: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    blobStoredBytes: 0,
    blobRawBytes: 0,
  };
  for (const e of repo.index.entries()) {
    t.blobs++;
    if (e.type === "tree") t.treeBlobs++;
    else t.dataBlobs++;
    t.blobStoredBytes += e.length;
    t.blobRawBytes += e.rawLength;
  }
  return t;
}

/** A file's content as a short key: equal blob lists give equal keys. */
function contentKey(content: readonly string[]): string {
  const h = createHash("sha256");
  for (const id of content) h.update(id);
  return h.digest("latin1");
}

/** Loads trees with at most TREE_LOADS in flight, counting them for progress. */
class LimitedTreeLoader {
  #active = 0;
  #waiting: (() => void)[] = [];
  #done = 0;

  constructor(
    private readonly repo: Repository,
    private readonly progress: Progress,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async load(id: string): Promise<TreeNode[]> {
    while (this.#active >= TREE_LOADS) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      if (this.signal?.aborted) throw new CofferError("INTERRUPTED", "Counting was interrupted.");
      return await loadTreeNodes(this.repo, id);
    } finally {
      this.#active--;
      this.#done++;
      this.progress.update({ phase: "reading trees", filesDone: this.#done });
      this.#waiting.shift()?.();
    }
  }
}

/** Calls `visit` once for every distinct tree reachable from `roots`. */
async function visitDistinctTrees(loader: LimitedTreeLoader, roots: readonly string[], visit: (id: string, nodes: TreeNode[]) => void): Promise<void> {
  const seen = new Set<string>();
  const one = async (id: string): Promise<void> => {
    if (seen.has(id)) return;
    seen.add(id);
    const nodes = await loader.load(id);
    visit(id, nodes);
    const subs: string[] = [];
    for (const n of nodes) if (n.type === "dir" && n.subtree !== undefined) subs.push(n.subtree);
    await Promise.all(subs.map(one));
  };
  await Promise.all(roots.map(one));
}

interface SizeAgg {
  files: number;
  dirs: number;
  others: number;
  bytes: number;
  /** Hard-linked files ("device:inode" → size), counted once each; not in files/bytes. */
  links: Map<string, number>;
}

const NO_LINKS: ReadonlyMap<string, number> = new Map();

/** restore-size per tree, memoised by tree id (equal ids hold equal contents). */
class RestoreSizer {
  readonly #memo = new Map<string, Promise<SizeAgg>>();

  constructor(private readonly loader: LimitedTreeLoader) {}

  size(id: string): Promise<SizeAgg> {
    let p = this.#memo.get(id);
    if (p === undefined) {
      p = this.#compute(id);
      this.#memo.set(id, p);
    }
    return p;
  }

  async #compute(id: string): Promise<SizeAgg> {
    const nodes = await this.loader.load(id);
    const agg: SizeAgg = { files: 0, dirs: 0, others: 0, bytes: 0, links: NO_LINKS as Map<string, number> };
    const subs: string[] = [];
    for (const n of nodes) {
      if (n.type === "file") {
        if (n.links > 1) {
          if (agg.links === NO_LINKS) agg.links = new Map();
          agg.links.set(`${n.device}:${n.inode}`, n.size);
        } else {
          agg.files++;
          agg.bytes += n.size;
        }
      } else if (n.type === "dir") {
        agg.dirs++;
        if (n.subtree !== undefined) subs.push(n.subtree);
      } else {
        agg.others++;
      }
    }
    for (const sub of await Promise.all(subs.map((s) => this.size(s)))) {
      agg.files += sub.files;
      agg.dirs += sub.dirs;
      agg.others += sub.others;
      agg.bytes += sub.bytes;
      if (sub.links.size > 0) {
        if (agg.links === NO_LINKS) agg.links = new Map();
        for (const [k, v] of sub.links) agg.links.set(k, v);
      }
    }
    return agg;
  }
}
