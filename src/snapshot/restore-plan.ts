import { CofferError, type ErrorCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import type { FilterDecision, RestoreFilter } from "./restore-filter.js";
import { joinPath, unsafeNameReason } from "./safe-path.js";
import type { TreeItem } from "./restore-protocol.js";
import { decodeTree, nameBytes, type TreeNode } from "./tree.js";

/**
 * What a restore will write, from the snapshot alone (the target is not looked at): the
 * directories in pre-order (parents before children) and the other entries in walk order.
 * Unsafe names are refused here, so nothing downstream ever sees one.
 */
export interface PlanDir {
  /** Path below the target, raw bytes ("" for the target itself). */
  rel: Buffer;
  /** The path below the restore root, as patterns see it ("/tmp/foo"; "" for the root). */
  display: string;
  /** Undefined for the restore root (the target). */
  node?: TreeNode;
  /** Index of the parent in `dirs` (-1 for the root). */
  parent: number;
  /** Restore this directory (created, metadata applied); false for one only walked through. */
  materialize: boolean;
  /** The filter's decision, for judging target-only entries when deleting. */
  decision: FilterDecision;
  /** Names (latin1 of the raw bytes) of every entry the snapshot lists here, selected or not. */
  names: Set<string>;
}

export interface PlanEntry {
  rel: Buffer;
  /** As in PlanDir. */
  display: string;
  node: TreeNode;
  /** Index of the parent directory in `dirs`. */
  dir: number;
}

export interface RestorePlan {
  /** The sub-path restored ("" for the whole snapshot): `prefix + display` is the snapshot path. */
  prefix: string;
  dirs: PlanDir[];
  /** Files, symlinks and special files, in walk order. */
  entries: PlanEntry[];
  /** Directories whose listing could not be read (nothing below them is restored). */
  errors: { path: string; message: string; code: ErrorCode }[];
}

export interface PlanOptions {
  /** Restore only this directory of the snapshot ("/tmp/foo"). */
  subPath?: string;
  filter: RestoreFilter;
  warn: WarningSink;
  signal?: AbortSignal;
  /**
   * Called as soon as a directory is known to be restored (its parent was announced before),
   * so the target can be prepared while the walk goes on. A directory only walked through
   * that turns out to hold something is not announced: see `materialize`.
   */
  onDir?: (no: number) => void;
  /** Open tree blobs in worker threads (default: on this thread, through the repository). */
  decoder?: TreeDecoder;
}

const TREE_LOADS = 8;
const TREE_LOADS_WORKERS = 64;
const TREE_CACHE_BYTES = 64 * 1024 * 1024;
const PREFETCH = 16;

/** An empty plan, for `buildPlan` to fill (callers watching it grow hold it from the start). */
export function emptyPlan(): RestorePlan {
  return { prefix: "", dirs: [], entries: [], errors: [] };
}

export async function buildPlan(repo: Repository, treeId: string, opts: PlanOptions, plan: RestorePlan = emptyPlan()): Promise<RestorePlan> {
  const loader = new TreeLoader(repo, opts.decoder);
  const { id, display } = await resolveSubPath(loader, treeId, opts.subPath);
  plan.prefix = display === "/" ? "" : display;
  plan.dirs.push({ rel: Buffer.alloc(0), display: "", parent: -1, materialize: true, decision: opts.filter.root(), names: new Set() });
  opts.onDir?.(0);
  await walk(plan, loader, loader.load(id), 0, opts);
  return plan;
}

async function walk(plan: RestorePlan, loader: TreeLoader, tree: Promise<TreeNode[]>, dirNo: number, opts: PlanOptions): Promise<boolean> {
  if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The restore was interrupted.");
  const dir = plan.dirs[dirNo] as PlanDir;
  let nodes: TreeNode[];
  try {
    nodes = await tree;
  } catch (err) {
    if (err instanceof CofferError && err.code === "INTERRUPTED") throw err;
    plan.errors.push({ path: plan.prefix + dir.display || "/", message: `the directory's listing cannot be read, so nothing in it was restored: ${(err as Error).message}`, code: err instanceof CofferError ? err.code : "CORRUPT" });
    return false;
  }
  const wanted: { node: TreeNode; name: Buffer; decision: FilterDecision }[] = [];
  for (const node of nodes) {
    const name = nameBytes(node);
    const key = name.toString("latin1");
    const path = `${dir.display}/${node.name}`;
    const full = plan.prefix + path;
    const why = unsafeNameReason(name);
    if (why !== undefined) {
      opts.warn({ code: "UNSAFE_PATH", message: `${JSON.stringify(full)} has ${why}; it was not restored`, path: full });
      continue;
    }
    if (dir.names.has(key)) {
      opts.warn({ code: "UNSAFE_PATH", message: `${full} appears twice in its directory; only the first was restored`, path: full });
      continue;
    }
    dir.names.add(key);
    const decision = opts.filter.decide(path, node.type === "dir", dir.decision);
    if (decision.selected || decision.descend) wanted.push({ node, name, decision });
  }
  // Subtrees are loaded a few directories ahead of the walk.
  const subdirs = wanted.filter((w) => w.node.type === "dir");
  const ahead = new Map<number, Promise<TreeNode[]>>();
  const prefetch = (from: number): void => {
    for (let i = from; i < Math.min(from + PREFETCH, subdirs.length); i++) {
      if (ahead.has(i)) continue;
      const st = (subdirs[i] as (typeof subdirs)[number]).node.subtree;
      const p = st ? loader.load(st) : Promise.resolve([]);
      p.catch(() => undefined); // observed when its turn comes
      ahead.set(i, p);
    }
  };
  let added = false;
  let sub = 0;
  for (const w of wanted) {
    const rel = joinPath(dir.rel, w.name);
    const display = `${dir.display}/${w.node.name}`;
    if (w.node.type !== "dir") {
      if (w.decision.selected) {
        plan.entries.push({ rel, display, node: w.node, dir: dirNo });
        added = true;
      }
      continue;
    }
    prefetch(sub);
    const subtree = ahead.get(sub) as Promise<TreeNode[]>;
    ahead.delete(sub++);
    const no = plan.dirs.length;
    plan.dirs.push({ rel, display, node: w.node, parent: dirNo, materialize: w.decision.selected, decision: w.decision, names: new Set() });
    if (w.decision.selected && dir.materialize) opts.onDir?.(no);
    // A directory only walked through is created when something below it is restored.
    if (await walk(plan, loader, subtree, no, opts)) (plan.dirs[no] as PlanDir).materialize = true;
    if ((plan.dirs[no] as PlanDir).materialize) added = true;
  }
  return added;
}

async function resolveSubPath(loader: TreeLoader, root: string, subPath: string | undefined): Promise<{ id: string; display: string }> {
  const comps = (subPath ?? "").split("/").filter((c) => c !== "" && c !== ".");
  if (comps.includes("..")) throw new CofferError("USAGE", `The sub-path "${subPath}" holds "..".`, { subPath });
  let id = root;
  let display = "";
  for (const c of comps) {
    const nodes = await loader.load(id);
    const want = Buffer.from(c);
    const node = nodes.find((n) => nameBytes(n).equals(want));
    display += `/${c}`;
    if (!node) throw new CofferError("NOT_FOUND", `The snapshot has no ${display}; run "coffer ls" to see what it holds.`, { path: display });
    if (node.type !== "dir" || !node.subtree) throw new CofferError("INVALID", `${display} is not a directory in the snapshot; give a directory to restore.`, { path: display });
    id = node.subtree;
  }
  return { id, display: display || "/" };
}

/** Opens and checks tree blobs elsewhere (worker threads); per item the plain bytes or why not. */
export type TreeDecoder = (items: TreeItem[]) => Promise<(Uint8Array | string)[]>;

/**
 * Loads tree blobs, a few at a time. Tree packs hold only trees and a walk needs most of
 * them, so a whole pack is read once and kept (bounded, least recently used out). With a
 * decoder, opening and checking the blobs (the costly part) runs in the workers, batched,
 * while this thread parses and walks.
 */
class TreeLoader {
  #active = 0;
  #waiting: (() => void)[] = [];
  #packs = new Map<string, Promise<Buffer>>();
  #packBytes = 0;
  #batch: { item: TreeItem; resolve(v: Uint8Array | string): void }[] = [];

  constructor(
    private readonly repo: Repository,
    private readonly decoder?: TreeDecoder,
  ) {}

  async load(id: string): Promise<TreeNode[]> {
    while (this.#active >= (this.decoder ? TREE_LOADS_WORKERS : TREE_LOADS)) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      const plain = this.decoder ? await this.#viaDecoder(id) : await this.repo.loadBlob("tree", Buffer.from(id, "hex"));
      return decodeTree(plain).nodes;
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError("CORRUPT", `Tree ${id.slice(0, 8)} cannot be read (${(err as Error).message}); run "coffer check".`, { tree: id });
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  async #viaDecoder(hex: string): Promise<Uint8Array> {
    const id = Buffer.from(hex, "hex");
    const candidates = this.repo.index.entriesOf(id).filter((e) => e.type === "tree");
    if (candidates.length === 0) throw new CofferError("NOT_FOUND", `tree blob ${hex.slice(0, 8)} is not in the index; run "coffer check".`, { blob: hex });
    let why = "";
    for (const e of candidates) {
      try {
        const pack = await this.#pack(e.pack);
        if (e.offset + e.length > pack.length) throw new Error(`pack ${e.pack.slice(0, 8)} is shorter than its index says`);
        // A copy of just the blob: a view would send the whole pack to the worker.
        const item: TreeItem = { data: new Uint8Array(pack.subarray(e.offset, e.offset + e.length)), id, compressed: e.compressed, rawLength: e.rawLength, pack: e.pack };
        const out = await new Promise<Uint8Array | string>((resolve) => this.#enqueue(item, resolve));
        if (typeof out !== "string") return out;
        why = out;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    throw new CofferError("CORRUPT", `Tree ${hex.slice(0, 8)} cannot be read (${why}); run "coffer check".`, { tree: hex });
  }

  /** Requests made in the same turn go to the workers as one job. */
  #enqueue(item: TreeItem, resolve: (v: Uint8Array | string) => void): void {
    this.#batch.push({ item, resolve });
    if (this.#batch.length > 1) return;
    setImmediate(() => {
      const batch = this.#batch.splice(0);
      (this.decoder as TreeDecoder)(batch.map((b) => b.item)).then(
        (out) => batch.forEach((b, i) => b.resolve(out[i] ?? "no answer from the worker")),
        (err: unknown) => batch.forEach((b) => b.resolve((err as Error).message ?? String(err))),
      );
    });
  }

  #pack(pack: string): Promise<Buffer> {
    let p = this.#packs.get(pack);
    if (p) {
      this.#packs.delete(pack);
      this.#packs.set(pack, p);
      return p;
    }
    p = this.repo.backend.load({ type: "data", name: pack });
    this.#packs.set(pack, p);
    p.then(
      (b) => {
        this.#packBytes += b.length;
        while (this.#packBytes > TREE_CACHE_BYTES && this.#packs.size > 1) {
          const [oldest, ob] = this.#packs.entries().next().value as [string, Promise<Buffer>];
          this.#packs.delete(oldest);
          void ob.then((x) => (this.#packBytes -= x.length)).catch(() => undefined);
        }
      },
      () => this.#packs.delete(pack),
    );
    return p;
  }
}
