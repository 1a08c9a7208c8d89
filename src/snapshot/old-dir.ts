import { isUtf8 } from "node:buffer";
import { decodeTree, type TreeNode } from "./tree.js";

/**
 * One directory of the parent snapshot, looked up by entry name while the same directory is
 * walked again. Both listings are in byte order of the names, so the next lookup is almost
 * always the next node: a map is built only when that guess fails.
 */
export class OldDir {
  #at = 0;
  #byKey: Map<string, number> | undefined;

  constructor(readonly nodes: readonly TreeNode[]) {}

  static decode(plain: Uint8Array): OldDir {
    return new OldDir(decodeTree(plain).nodes);
  }

  get size(): number {
    return this.nodes.length;
  }

  /** The node for a name key (see `nameKeyOf`), or undefined. */
  find(key: string): TreeNode | undefined {
    const next = this.nodes[this.#at];
    if (next !== undefined && nodeKey(next) === key) {
      this.#at++;
      return next;
    }
    if (!this.#byKey) {
      this.#byKey = new Map();
      this.nodes.forEach((n, i) => this.#byKey?.set(nodeKey(n), i));
    }
    const i = this.#byKey.get(key);
    if (i === undefined) return undefined;
    this.#at = i + 1;
    return this.nodes[i];
  }
}

/**
 * The key a name is looked up by: the name itself when its bytes are valid UTF-8 (what
 * `name` holds then), else "\0" and the bytes as latin1 (a name never contains a NUL byte,
 * so the two kinds cannot collide). Equal keys ⇔ equal name bytes.
 */
export function nodeKey(n: TreeNode): string {
  if (n.name_raw === undefined) return n.name;
  return nameKeyOf(Buffer.from(n.name_raw, "base64"));
}

export function nameKeyOf(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString("utf8") : `\0${bytes.toString("latin1")}`;
}
