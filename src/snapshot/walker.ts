import { CofferError } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import { compareNames, decodeTree, nameBytes, type TreeNode } from "./tree.js";

/**
 * Depth-first walks over a snapshot's trees, for `ls`, `diff`, `stats`, `dump` and anything
 * else that reads a snapshot without restoring it.
 *
 * Order: pre-order (a directory before what it holds), siblings by the bytes of their names,
 * which is the order trees are stored in (a tree that is not sorted is sorted on the fly).
 * Paths are absolute POSIX paths inside the snapshot ("/tmp/foo/bar"), as the archiver
 * records them; `pathBytes` is the same path as raw bytes (names need not be UTF-8, and
 * `path` then holds the readable replacement stored in the tree).
 *
 * The visitor returns "skip" to leave out a directory's contents, "stop" to end the walk, or
 * nothing to go on. A few subtrees ahead of the walk are loaded while it visits.
 */
export interface WalkEntry {
  /** "/tmp/foo/bar" (POSIX, absolute within the snapshot). */
  path: string;
  /** The same path as raw bytes. */
  pathBytes: Buffer;
  node: TreeNode;
  /** 1 for the entries of the tree the walk started at. */
  depth: number;
}

export type WalkAction = void | "skip" | "stop";

export type WalkVisitor = (entry: WalkEntry) => WalkAction | Promise<WalkAction>;

/** What the walker needs of a repository: verified tree blobs. */
export type TreeBlobLoader = Pick<Repository, "loadBlob">;

export interface WalkOptions {
  /** The path of the tree the walk starts at ("/" or "" for the snapshot root). */
  prefix?: string;
  /** Its raw bytes, when the prefix is not valid UTF-8 (from a `lookupPath` result). */
  prefixBytes?: Buffer;
  /** Do not descend below this depth (1: only the starting tree's own entries). */
  maxDepth?: number;
  /** Subtrees loaded ahead of the walk (default 8; 0 loads each when its turn comes). */
  prefetch?: number;
  /**
   * A directory whose tree cannot be loaded: called instead of throwing, and the walk goes on
   * without its contents. Without it the walk throws (CofferError CORRUPT/NOT_FOUND).
   */
  onError?: (entry: WalkEntry, err: CofferError) => void;
  signal?: AbortSignal;
}

export interface WalkResult {
  /** False when the visitor stopped the walk. */
  completed: boolean;
}

const DEFAULT_PREFETCH = 8;
const SLASH = Buffer.from("/");

/** Walks the tree `treeId` (hex) depth-first, calling `visit` for every node below it. */
export async function walkTree(repo: TreeBlobLoader, treeId: string, visit: WalkVisitor, opts: WalkOptions = {}): Promise<WalkResult> {
  const prefixBytes = trimSlashes(opts.prefixBytes ?? Buffer.from(normalizePrefix(opts.prefix ?? "")));
  const prefix = normalizePrefix(opts.prefix ?? prefixBytes.toString("utf8"));
  const w = new Walker(repo, visit, opts);
  const stopped = await w.dir(w.load(treeId), prefix, prefixBytes, 1);
  return { completed: !stopped };
}

/** Loads and decodes one tree blob, its nodes in name order. */
export async function loadTreeNodes(repo: TreeBlobLoader, treeId: string): Promise<TreeNode[]> {
  let nodes: TreeNode[];
  try {
    nodes = decodeTree(await repo.loadBlob("tree", Buffer.from(treeId, "hex"))).nodes;
  } catch (err) {
    if (err instanceof CofferError) throw err;
    throw new CofferError("CORRUPT", `Tree ${treeId.slice(0, 8)} cannot be read (${(err as Error).message}); run "coffer check".`, { tree: treeId });
  }
  return sortedNodes(nodes);
}

/** The nodes in name order: as stored, or a sorted copy for a tree written out of order. */
export function sortedNodes(nodes: TreeNode[]): TreeNode[] {
  for (let i = 1; i < nodes.length; i++) {
    if (compareNames(nodes[i - 1] as TreeNode, nodes[i] as TreeNode) > 0) return [...nodes].sort(compareNames);
  }
  return nodes;
}

/** Where a path leads in a snapshot: the root ("/"), or the node the path names. */
export interface PathLookup {
  /** Normalized: "/" or "/tmp/foo" (no trailing slash). */
  path: string;
  pathBytes: Buffer;
  /** Undefined for the root, which has no node of its own. */
  node?: TreeNode;
  /** The tree to walk for a directory (the root tree for "/"); undefined for other types. */
  treeId?: string;
}

/**
 * Finds `path` ("/tmp/foo", "tmp/foo/", "/") in the snapshot whose root tree is `rootTree`.
 * Throws CofferError NOT_FOUND (one sentence naming the first missing component) when the
 * path is not in the snapshot, and INVALID when it passes through something not a directory.
 */
export async function lookupPath(repo: TreeBlobLoader, rootTree: string, path: string): Promise<PathLookup> {
  const comps = path.split("/").filter((c) => c !== "" && c !== ".");
  if (comps.includes("..")) throw new CofferError("INVALID", `The path "${path}" holds ".."; give a path as "coffer ls" prints it.`, { path });
  let treeId: string | undefined = rootTree;
  let node: TreeNode | undefined;
  let shown = "";
  let bytes = Buffer.alloc(0);
  for (const c of comps) {
    if (treeId === undefined) throw new CofferError("INVALID", `${shown} is not a directory in the snapshot, so it holds no "${c}".`, { path: shown });
    const want = Buffer.from(c);
    const nodes = await loadTreeNodes(repo, treeId);
    node = nodes.find((n) => nameBytes(n).equals(want)) ?? nodes.find((n) => n.name === c);
    shown += `/${c}`;
    if (node === undefined) throw new CofferError("NOT_FOUND", `The snapshot has no ${shown}; run "coffer ls" to see what it holds.`, { path: shown });
    bytes = Buffer.concat([bytes, SLASH, nameBytes(node)]);
    treeId = node.type === "dir" ? node.subtree : undefined;
    if (node.type === "dir" && treeId === undefined) throw new CofferError("CORRUPT", `The directory ${shown} has no tree id; run "coffer check".`, { path: shown });
  }
  const out: PathLookup = { path: shown === "" ? "/" : shown, pathBytes: bytes.length === 0 ? Buffer.from("/") : bytes };
  if (node !== undefined) out.node = node;
  if (treeId !== undefined) out.treeId = treeId;
  return out;
}

function trimSlashes(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0x2f) end--;
  return b.subarray(0, end);
}

function normalizePrefix(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  return trimmed === "" ? "" : trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

class Walker {
  readonly #prefetch: number;

  constructor(
    private readonly repo: TreeBlobLoader,
    private readonly visit: WalkVisitor,
    private readonly opts: WalkOptions,
  ) {
    this.#prefetch = opts.prefetch ?? DEFAULT_PREFETCH;
  }

  load(id: string): Promise<TreeNode[]> {
    const p = loadTreeNodes(this.repo, id);
    p.catch(() => undefined); // observed when its turn comes
    return p;
  }

  /** Walks one directory's nodes; returns true when the walk was stopped. */
  async dir(nodes: Promise<TreeNode[]>, path: string, pathBytes: Buffer, depth: number, entry?: WalkEntry): Promise<boolean> {
    let list: TreeNode[];
    try {
      list = await nodes;
    } catch (err) {
      if (!(err instanceof CofferError) || err.code === "INTERRUPTED" || entry === undefined || this.opts.onError === undefined) throw err;
      this.opts.onError(entry, err);
      return false;
    }
    const descend = this.opts.maxDepth === undefined || depth < this.opts.maxDepth;
    const subdirs = descend ? list.filter((n) => n.type === "dir" && n.subtree !== undefined) : [];
    const ahead = new Map<TreeNode, Promise<TreeNode[]>>();
    let next = 0;
    const prefetch = (): void => {
      while (next < subdirs.length && ahead.size < this.#prefetch) {
        const n = subdirs[next++] as TreeNode;
        ahead.set(n, this.load(n.subtree as string));
      }
    };
    prefetch();
    for (const node of list) {
      if (this.opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The walk over the snapshot was interrupted.");
      const childBytes = Buffer.concat([pathBytes, SLASH, nameBytes(node)]);
      const child: WalkEntry = { path: `${path}/${node.name}`, pathBytes: childBytes, node, depth };
      const action = await this.visit(child);
      if (action === "stop") return true;
      if (node.type !== "dir" || node.subtree === undefined || !descend) continue;
      let sub = ahead.get(node);
      ahead.delete(node);
      if (action === "skip") {
        prefetch();
        continue;
      }
      sub ??= this.load(node.subtree);
      prefetch();
      if (await this.dir(sub, child.path, childBytes, depth + 1, child)) return true;
    }
    return false;
  }
}
