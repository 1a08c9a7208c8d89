import { CofferError, type ErrorCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import type { FilterDecision, RestoreFilter } from "./restore-filter.js";
import { joinPath, unsafeNameReason } from "./safe-path.js";
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
}

const TREE_LOADS = 8;
/** Subdirectories whose trees are loaded ahead of the walk (more measured no faster). */
const PREFETCH = 16;

/** An empty plan, for `buildPlan` to fill (callers watching it grow hold it from the start). */
export function emptyPlan(): RestorePlan {
  return { prefix: "", dirs: [], entries: [], errors: [] };
}

export async function buildPlan(repo: Repository, treeId: string, opts: PlanOptions, plan: RestorePlan = emptyPlan()): Promise<RestorePlan> {
  const loader = new TreeLoader(repo);
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
  // Subtrees are loaded ahead of the walk (see PREFETCH).
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

/** Loads tree blobs, a few at a time (the repository keeps tree packs in memory). */
class TreeLoader {
  #active = 0;
  #waiting: (() => void)[] = [];

  constructor(private readonly repo: Repository) {}

  async load(id: string): Promise<TreeNode[]> {
    while (this.#active >= TREE_LOADS) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return decodeTree(await this.repo.loadBlob("tree", Buffer.from(id, "hex"))).nodes;
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError("CORRUPT", `Tree ${id.slice(0, 8)} cannot be read (${(err as Error).message}); run "coffer check".`, { tree: id });
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
