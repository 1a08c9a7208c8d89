import { type EntryStat, statDecimal, statIso, statNumber } from "./entry-stat.js";
import type { NameLookup } from "./names.js";
import { nodeTypeOf } from "./node-from-stat.js";
import { strictUtf8, type TreeNode } from "./tree.js";

/**
 * Whether a new node would encode as the parent's did (every field coffer writes is equal).
 * Written out field by field: a loop over field names made this one of the hottest functions
 * of an unchanged backup. Fields only an old (or newer) build wrote are kept by reusing it.
 */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  if (
    a.name !== b.name ||
    a.type !== b.type ||
    a.mode !== b.mode ||
    a.mtime !== b.mtime ||
    a.ctime !== b.ctime ||
    a.size !== b.size ||
    a.inode !== b.inode ||
    a.device !== b.device ||
    a.links !== b.links ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.user !== b.user ||
    a.group !== b.group ||
    a.subtree !== b.subtree ||
    a.name_raw !== b.name_raw ||
    a.linktarget !== b.linktarget ||
    a.linktarget_raw !== b.linktarget_raw ||
    a.rdev !== b.rdev ||
    a.xattrs !== undefined ||
    b.xattrs !== undefined
  ) {
    return false;
  }
  const ca = a.content;
  const cb = b.content;
  if (ca === cb) return true;
  if (!ca || !cb || ca.length !== cb.length) return false;
  for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return false;
  return true;
}

/**
 * How an lstat result compares with the parent snapshot's node of the same name:
 * `CHANGED`, `CONTENT` (a file whose content is known unchanged: same type, size, mtime,
 * ctime, inode and mode, and the old node lists its blobs; other metadata may differ), or
 * `SAME` (the node `nodeFromStat` would build, with the old content or subtree, is `sameNode`
 * to the old one; for a directory the caller still compares the subtree).
 */
export const CHANGED = 0;
export const CONTENT = 1;
export const SAME = 2;
export type StatMatch = typeof CHANGED | typeof CONTENT | typeof SAME;

/**
 * Compares without building a node: this runs for every entry of an unchanged backup.
 * `name` is the entry's name as `encodeName` gives it; `linktarget` is what readlink
 * returned, for symlinks. Must agree with nodeFromStat + sameNode field for field.
 */
export function compareStat(stat: EntryStat, old: TreeNode, name: string, nameRaw: string | undefined, names: NameLookup, linktarget?: Buffer): StatMatch {
  const mode = statNumber(stat, "mode");
  const type = nodeTypeOf(mode);
  if (type === undefined || old.type !== type) return CHANGED;
  const size = type === "dir" ? 0 : statNumber(stat, "size");
  if (old.size !== size || old.mode !== (mode & 0o7777) || old.inode !== statDecimal(stat, "ino")) return CHANGED;
  if (old.mtime !== statIso(stat, "mtimeNs") || old.ctime !== statIso(stat, "ctimeNs")) return CHANGED;
  // The content is the same from here on (for files); what follows decides whether the node is.
  const content = type === "file" && old.content !== undefined ? CONTENT : CHANGED;
  if (type === "file" ? old.content === undefined : old.content !== undefined) return content;
  const uid = statNumber(stat, "uid");
  const gid = statNumber(stat, "gid");
  if (
    old.name !== name ||
    old.name_raw !== nameRaw ||
    old.device !== statDecimal(stat, "dev") ||
    old.links !== statNumber(stat, "nlink") ||
    old.uid !== uid ||
    old.gid !== gid ||
    old.user !== names.user(uid) ||
    old.group !== names.group(gid) ||
    old.rdev !== (type === "dev" || type === "chardev" ? statDecimal(stat, "rdev") : undefined) ||
    old.xattrs !== undefined ||
    (type !== "dir" && old.subtree !== undefined)
  ) {
    return content;
  }
  if (type === "symlink") {
    if (linktarget === undefined) return old.linktarget === undefined && old.linktarget_raw === undefined ? SAME : CHANGED;
    const s = strictUtf8(linktarget);
    if (s !== undefined ? old.linktarget !== s || old.linktarget_raw !== undefined : old.linktarget !== linktarget.toString("latin1") || old.linktarget_raw !== linktarget.toString("base64")) {
      return CHANGED;
    }
    return SAME;
  }
  return old.linktarget === undefined && old.linktarget_raw === undefined ? SAME : content;
}

/** Whether a file's content can be taken from the parent's node without reading the file. */
export function unchanged(old: TreeNode, now: TreeNode): boolean {
  return old.type === "file" && old.size === now.size && old.mtime === now.mtime && old.ctime === now.ctime && old.inode === now.inode && old.mode === now.mode && old.content !== undefined;
}
