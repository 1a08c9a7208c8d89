import type { BigIntStats } from "node:fs";
import type { Repository } from "../repository/repository.js";
import { contentDiffers, diffTrees, metadataDiffers } from "../snapshot/diff.js";
import { nodeTypeOf } from "../snapshot/node-from-stat.js";
import { type NodeType, nsFromIso, linkTargetBytes, type TreeNode } from "../snapshot/tree.js";
import { lookupPath, walkTree } from "../snapshot/walker.js";
import { type CurrentEntry, fileContentIds } from "./current-state.js";

/**
 * What a rollback changes, path by path, from the current state (the safety snapshot, or a
 * scan of the disk for a dry run) to the snapshot rolled back to. The kinds are `coffer diff`'s:
 * added (the snapshot has it, the disk does not: it is restored), removed (deleted), modified
 * (content), type (a file became a directory, ...), metadata (mode, mtime or owner only).
 * Directories appear only when added, removed or of another type.
 */
export type RollbackChangeKind = "added" | "removed" | "modified" | "type" | "metadata";

export interface RollbackChange {
  path: string;
  /** The path as raw bytes (latin1), the key the restorer's paths are matched by. */
  key: string;
  change: RollbackChangeKind;
  /** The type it has after the rollback (before, for removed). */
  type: NodeType;
  /** The current node (from the safety snapshot; undefined for added and in a dry run). */
  before?: TreeNode;
  after?: TreeNode;
}

/** Whether `path` is `root` or below it. */
export function isInside(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** From the safety snapshot's tree (or nothing, when none of the paths existed) to the target tree. */
export async function changesFromTrees(repo: Repository, beforeTree: string | undefined, afterTree: string, paths: readonly string[], signal?: AbortSignal): Promise<RollbackChange[]> {
  const out: RollbackChange[] = [];
  const keep = (path: string): boolean => paths.some((p) => isInside(path, p));
  if (beforeTree === undefined) {
    for (const p of paths) await walkAdded(repo, afterTree, p, (c) => out.push(c));
    return out;
  }
  await diffTrees(repo, beforeTree, afterTree, {
    ...(signal ? { signal } : {}),
    onChange(c) {
      if (!keep(c.path)) return;
      const node = (c.after ?? c.before) as TreeNode;
      if (c.change === "metadata" && node.type === "dir") return;
      out.push({ path: c.path, key: c.pathBytes.toString("latin1"), change: c.change, type: node.type, ...(c.before ? { before: c.before } : {}), ...(c.after ? { after: c.after } : {}) });
    },
  });
  return out;
}

/** Every node of the target tree at and below `path`, as added. */
async function walkAdded(repo: Repository, tree: string, path: string, emit: (c: RollbackChange) => void): Promise<void> {
  const look = await lookupPath(repo, tree, path).catch(() => undefined);
  if (!look) return;
  if (look.node) emit({ path: look.path, key: look.pathBytes.toString("latin1"), change: "added", type: look.node.type, after: look.node });
  if (look.treeId === undefined) return;
  await walkTree(repo, look.treeId, (e) => void emit({ path: e.path, key: e.pathBytes.toString("latin1"), change: "added", type: e.node.type, after: e.node }), {
    prefix: look.path === "/" ? "" : look.path,
    prefixBytes: look.path === "/" ? Buffer.alloc(0) : look.pathBytes,
  });
}

/**
 * From the disk as it is (scanCurrentState with the snapshot's filters) to the target tree,
 * for a dry run. A file of the same size and another mtime is read and chunked to tell a
 * content change from a metadata change.
 */
export async function changesFromDisk(repo: Repository, current: Map<string, CurrentEntry>, afterTree: string, paths: readonly string[]): Promise<RollbackChange[]> {
  const out: RollbackChange[] = [];
  const seen = new Set<string>();
  const visit = async (path: string, key: string, node: TreeNode): Promise<void> => {
    seen.add(key);
    const cur = current.get(key);
    const base = { path, key, type: node.type, after: node };
    if (!cur) return void out.push({ ...base, change: "added" });
    if (cur.type !== node.type) return void out.push({ ...base, change: "type" });
    const change = await compare(repo, key, cur, node);
    if (change) out.push({ ...base, change });
  };
  for (const p of paths) {
    const look = await lookupPath(repo, afterTree, p).catch(() => undefined);
    if (!look) continue;
    if (look.node) await visit(look.path, look.pathBytes.toString("latin1"), look.node);
    else seen.add(look.pathBytes.toString("latin1"));
    if (look.treeId === undefined) continue;
    const pending: { path: string; key: string; node: TreeNode }[] = [];
    await walkTree(repo, look.treeId, (e) => void pending.push({ path: e.path, key: e.pathBytes.toString("latin1"), node: e.node }), {
      prefix: look.path === "/" ? "" : look.path,
      prefixBytes: look.path === "/" ? Buffer.alloc(0) : look.pathBytes,
    });
    for (const e of pending) await visit(e.path, e.key, e.node);
  }
  for (const [key, cur] of current) {
    if (seen.has(key)) continue;
    const path = Buffer.from(key, "latin1").toString("utf8");
    if (!paths.some((p) => isInside(path, p))) continue;
    out.push({ path, key, change: "removed", type: cur.type });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.key, "latin1"), Buffer.from(b.key, "latin1")));
}

async function compare(repo: Repository, key: string, cur: CurrentEntry, node: TreeNode): Promise<RollbackChangeKind | undefined> {
  const metadata = cur.mode !== node.mode || (node.type !== "dir" && cur.mtimeNs !== nsFromIso(node.mtime));
  switch (node.type) {
    case "file": {
      if (cur.size !== node.size) return "modified";
      if (cur.mtimeNs === nsFromIso(node.mtime)) return cur.mode !== node.mode ? "metadata" : undefined;
      const ids = await fileContentIds(repo, Buffer.from(key, "latin1")).catch(() => undefined);
      const same = ids !== undefined && ids.length === (node.content ?? []).length && ids.every((id, i) => id === node.content?.[i]);
      return same ? "metadata" : "modified";
    }
    case "symlink":
      return !(cur.linktarget ?? Buffer.alloc(0)).equals(linkTargetBytes(node)) ? "modified" : undefined;
    case "dir":
      return undefined;
    default:
      return metadata ? "metadata" : undefined;
  }
}

/**
 * Files the restorer's "if-changed" test (same size and mtime) would leave alone although
 * they differ from the target: restored again with overwrite "always".
 */
export function sameSizeAndTime(c: RollbackChange): boolean {
  const a = c.before;
  const b = c.after;
  if (!a || !b || a.type !== "file" || b.type !== "file") return false;
  return (c.change === "modified" || c.change === "metadata") && a.size === b.size && a.mtime === b.mtime && (contentDiffers(a, b) || metadataDiffers(a, b));
}

/**
 * The restorer's `deleteFilter` for rolling back over a state whose safety snapshot `changes`
 * were computed from: an entry may go only when the safety snapshot holds it (so the filters
 * did not exclude it and it can be had back) and it has not changed since (same type, size,
 * mtime). Entries refused for having changed are passed to `onKept`.
 */
export function safeDeleteFilter(changes: readonly RollbackChange[], onKept: (path: string) => void): (path: Buffer, st: BigIntStats) => boolean {
  const removed = new Map<string, TreeNode>();
  for (const c of changes) if (c.change === "removed" && c.before) removed.set(c.key, c.before);
  return (path, st) => {
    const key = withoutDoubleSlash(path).toString("latin1");
    const node = removed.get(key);
    if (!node) return false; // not in the safety snapshot: excluded, ignored, or new
    if (node.type === "dir" ? !st.isDirectory() : !sameAsNode(st, node)) {
      onKept(Buffer.from(key, "latin1").toString("utf8"));
      return false;
    }
    return true;
  };
}

/** Same type, size and mtime as a node (and with `strict`, ctime and inode: not written to at all). */
export function sameAsNode(st: BigIntStats, n: TreeNode, strict = false): boolean {
  if (nodeTypeOf(Number(st.mode)) !== n.type) return false;
  if (n.type !== "dir" && st.size !== BigInt(n.size)) return false;
  if (n.type !== "dir" && st.mtimeNs !== nsFromIso(n.mtime)) return false;
  return !strict || (st.ctimeNs === nsFromIso(n.ctime) && st.ino.toString() === n.inode);
}

/** The restorer builds paths below a target of "/" as "//x". */
export function withoutDoubleSlash(p: Buffer): Buffer {
  let i = 0;
  while (i + 1 < p.length && p[i] === 0x2f && p[i + 1] === 0x2f) i++;
  return i === 0 ? p : p.subarray(i);
}
