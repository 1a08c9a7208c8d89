/**
 * How tree nodes look to people (`ls -l`, `diff`) and in --json: an ls-style permission
 * string, and a node without its blob lists, with its path.
 */
import type { NodeType, TreeNode } from "../snapshot/tree.js";

const TYPE_CHAR: Record<NodeType, string> = { file: "-", dir: "d", symlink: "l", dev: "b", chardev: "c", fifo: "p", socket: "s" };

/** `drwxr-xr-x`, `-rwsr-x--T`: the type letter, then rwx with setuid, setgid and sticky. */
export function modeString(type: NodeType, mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string): string =>
    (bits & 4 ? "r" : "-") + (bits & 2 ? "w" : "-") + (bits & 1 ? (special ? ch : "x") : special ? ch.toUpperCase() : "-");
  return (
    TYPE_CHAR[type] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, "s") +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, "s") +
    rwx(mode & 7, (mode & 0o1000) !== 0, "t")
  );
}

/** A node for --json: its fields without `content`/`subtree`, plus its path and permissions. */
export function nodeJson(path: string, node: TreeNode): Record<string, unknown> {
  const { content, subtree: _subtree, ...rest } = node;
  return { path, ...rest, permissions: modeString(node.type, node.mode), ...(content !== undefined ? { blobs: content.length } : {}) };
}
