import type { WarningSink } from "../core/warning.js";
import { compareNames, encodeName, type TreeNode } from "../snapshot/tree.js";

/**
 * The directory tree an import builds in memory from archive entries, which come in any order
 * (a ZIP's central directory, a tar stream) and need not list every directory. Saved bottom-up
 * as tree blobs once every entry is in. Directories the archive does not list get `defaults`.
 *
 * Nodes get synthetic inode numbers (device "0"); the members of a tar hard-link group share
 * one, with `links` set to the size of the group, so a restore links them again.
 */
export interface NodeMeta {
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
}

interface Dir {
  meta?: NodeMeta;
  children: Map<string, Dir | TreeNode>;
}

export class ImportTree {
  readonly #root: Dir = { children: new Map() };
  #inode = 0;
  #groups = new Map<string, TreeNode[]>();
  dirs = 0;

  constructor(private readonly warn: WarningSink) {}

  /** A directory entry (created, or given its metadata when already implied by a child). */
  dir(comps: Buffer[], meta: NodeMeta, shown: string): void {
    const d = this.#dirAt(comps, shown);
    d.meta = meta;
  }

  /**
   * A file or symlink node (its name is set here). A later entry of the same path replaces it;
   * a path that is already a directory keeps the directory (undefined is returned).
   */
  leaf(comps: Buffer[], node: Omit<TreeNode, "name" | "inode" | "device" | "links">, shown: string, linkTo?: TreeNode): TreeNode | undefined {
    const parent = this.#dirAt(comps.slice(0, -1), shown);
    const name = comps[comps.length - 1] as Buffer;
    const key = name.toString("latin1");
    const old = parent.children.get(key);
    if (old !== undefined && !isNode(old)) {
      this.warn({ code: "SKIPPED", message: `${shown} is both a directory and a ${node.type} in the archive; the directory is kept`, path: shown });
      return undefined;
    }
    if (old !== undefined) this.warn({ code: "SKIPPED", message: `${shown} is in the archive twice; the later entry is kept`, path: shown });
    const inode = linkTo?.inode ?? String(++this.#inode);
    const full = { ...encodeName(name), ...node, inode, device: "0", links: 1 } as TreeNode;
    if (linkTo !== undefined) {
      let group = this.#groups.get(inode);
      if (group === undefined) this.#groups.set(inode, (group = [linkTo]));
      group.push(full);
    }
    parent.children.set(key, full);
    return full;
  }

  /** The file or symlink at a path, if any. */
  find(comps: Buffer[]): TreeNode | undefined {
    let d: Dir = this.#root;
    for (let i = 0; i < comps.length - 1; i++) {
      const c = d.children.get((comps[i] as Buffer).toString("latin1"));
      if (c === undefined || isNode(c)) return undefined;
      d = c;
    }
    const last = comps[comps.length - 1];
    const hit = last === undefined ? undefined : d.children.get(last.toString("latin1"));
    return hit !== undefined && isNode(hit) ? hit : undefined;
  }

  /**
   * Saves every directory bottom-up with `saveTree` (which returns a tree id) and returns the
   * id of the top directory's tree: the contents of the archive.
   */
  async save(saveTree: (nodes: TreeNode[]) => Promise<string>, defaults: NodeMeta): Promise<string> {
    for (const group of this.#groups.values()) for (const n of group) n.links = group.length;
    return this.#save(this.#root, saveTree, defaults);
  }

  async #save(d: Dir, saveTree: (nodes: TreeNode[]) => Promise<string>, defaults: NodeMeta): Promise<string> {
    const nodes: TreeNode[] = [];
    for (const [key, c] of d.children) {
      if (isNode(c)) {
        nodes.push(c);
        continue;
      }
      const subtree = await this.#save(c, saveTree, defaults);
      nodes.push({ ...dirNode(Buffer.from(key, "latin1"), c.meta ?? defaults, String(++this.#inode)), subtree });
      this.dirs++;
    }
    nodes.sort(compareNames);
    return saveTree(nodes);
  }

  #dirAt(comps: Buffer[], shown: string): Dir {
    let d = this.#root;
    for (const c of comps) {
      const key = c.toString("latin1");
      const next = d.children.get(key);
      if (next === undefined || isNode(next)) {
        if (next !== undefined) this.warn({ code: "SKIPPED", message: `${shown}: ${c.toString("utf8")} is both a ${next.type} and a directory in the archive; the directory is kept`, path: shown });
        const made: Dir = { children: new Map() };
        d.children.set(key, made);
        d = made;
      } else {
        d = next;
      }
    }
    return d;
  }
}

/** A directory node (without its subtree) for a name and metadata. */
export function dirNode(name: Buffer, meta: NodeMeta, inode: string): TreeNode {
  const n: TreeNode = { ...encodeName(name), type: "dir", mode: meta.mode, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, ctime: meta.mtime, inode, device: "0", links: 1, size: 0 };
  if (meta.user !== undefined) n.user = meta.user;
  if (meta.group !== undefined) n.group = meta.group;
  return n;
}

function isNode(c: Dir | TreeNode): c is TreeNode {
  return (c as TreeNode).type !== undefined;
}
