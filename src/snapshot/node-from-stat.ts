import { constants } from "node:fs";
import { CofferError } from "../core/errors.js";
import { type EntryStat, statDecimal, statIso, statNumber } from "./entry-stat.js";
import type { NameLookup } from "./names.js";
import { encodeName, strictUtf8, type NodeType, type TreeNode } from "./tree.js";

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } = constants;

/** The file type of an lstat mode, or undefined for a type a tree cannot hold. */
export function nodeTypeOf(mode: number): NodeType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFBLK:
      return "dev";
    case S_IFCHR:
      return "chardev";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    default:
      return undefined;
  }
}

/**
 * A tree node from an lstat result, every field set except `content` and `subtree` (the
 * archiver adds those). `mode` holds the permission and special bits only (`& 0o7777`); the
 * file type lives in `type`. `size` is 0 for directories and st_size otherwise (a symlink's
 * is the length of its target). `rdev` is set for block and character devices only.
 * `linktarget` must be given for symlinks (the bytes readlink returned); it is stored as
 * `linktarget`, or as `linktarget_raw` (base64) when it is not valid UTF-8.
 * `xattrs` is left unset: Node has no API to read extended attributes.
 * Throws CofferError("UNSUPPORTED") for a file type a tree cannot hold.
 */
export function nodeFromStat(name: Buffer, stat: EntryStat, names: NameLookup, linktarget?: Buffer): TreeNode {
  const mode = statNumber(stat, "mode");
  const type = nodeTypeOf(mode);
  if (type === undefined) {
    throw new CofferError("UNSUPPORTED", `The file type of ${name.toString("utf8")} (mode 0o${mode.toString(8)}) cannot be backed up.`, { mode });
  }
  const uid = statNumber(stat, "uid");
  const gid = statNumber(stat, "gid");
  // No object spread here: `{ ...encodeName(name), ... }` made this function ~40× slower
  // (V8 falls back to a slow object shape), and it runs for every file of every backup.
  const enc = encodeName(name);
  const node: TreeNode = {
    name: enc.name,
    type,
    mode: mode & 0o7777,
    uid,
    gid,
    mtime: statIso(stat, "mtimeNs"),
    ctime: statIso(stat, "ctimeNs"),
    inode: statDecimal(stat, "ino"),
    device: statDecimal(stat, "dev"),
    links: statNumber(stat, "nlink"),
    size: type === "dir" ? 0 : statNumber(stat, "size"),
  };
  if (enc.name_raw !== undefined) node.name_raw = enc.name_raw;
  const user = names.user(uid);
  if (user !== undefined) node.user = user;
  const group = names.group(gid);
  if (group !== undefined) node.group = group;
  if (type === "dev" || type === "chardev") node.rdev = statDecimal(stat, "rdev");
  if (type === "symlink" && linktarget !== undefined) {
    const s = strictUtf8(linktarget);
    if (s !== undefined) {
      node.linktarget = s;
    } else {
      node.linktarget = linktarget.toString("latin1");
      node.linktarget_raw = linktarget.toString("base64");
    }
  }
  return node;
}
