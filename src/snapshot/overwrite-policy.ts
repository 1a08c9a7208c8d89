import { type BigIntStats, readlinkSync } from "node:fs";
import type { ActionKind, OverwritePolicy } from "./restorer.js";
import { linkTargetBytes, nsFromIso, type TreeNode } from "./tree.js";

/**
 * What to do with an entry of the snapshot given what is at its place in the target now
 * (RestoreOptions.overwrite): "if-changed" keeps a file of the same size and mtime, a symlink
 * with the same target, a fifo, or the same device node; "if-newer" replaces only when the
 * snapshot's mtime is later.
 */
export function overwriteAction(existing: BigIntStats | undefined, node: TreeNode, abs: Buffer, policy: OverwritePolicy): ActionKind {
  if (!existing) return "create";
  switch (policy) {
    case "never":
      return "skip";
    case "always":
      return "overwrite";
    case "if-newer":
      return nsFromIso(node.mtime) > existing.mtimeNs ? "overwrite" : "skip";
    case "if-changed":
      return sameAsNode(existing, node, abs) ? "skip" : "overwrite";
  }
}

function sameAsNode(st: BigIntStats, node: TreeNode, abs: Buffer): boolean {
  switch (node.type) {
    case "file":
      return st.isFile() && st.size === BigInt(node.size) && st.mtimeNs === nsFromIso(node.mtime);
    case "symlink":
      try {
        return st.isSymbolicLink() && readlinkSync(abs, { encoding: "buffer" }).equals(linkTargetBytes(node));
      } catch {
        return false;
      }
    case "fifo":
      return st.isFIFO();
    case "dev":
    case "chardev":
      return (node.type === "dev" ? st.isBlockDevice() : st.isCharacterDevice()) && st.rdev.toString() === (node.rdev ?? "");
    default:
      return false;
  }
}
