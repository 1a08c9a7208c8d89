import { ID_BYTES, isIdHex } from "../core/hex.js";
import type { Tree } from "../snapshot/tree.js";

/**
 * What the tree walk of `check` needs from one tree: the subtrees and data blobs it names (as
 * 32-byte ids, not objects or hex strings), and what is wrong with its nodes. Made where the
 * tree is decoded, a check worker or the main thread, so a tree is decoded once.
 */
export interface TreeSummary {
  /** Subtree ids, 32 bytes each, in node order. */
  subtrees: Uint8Array;
  /** The data blob ids of its files, 32 bytes each, in node order. */
  blobs: Uint8Array;
  /** Each invalid node, described, in node order. */
  invalid: string[];
}

/** A summary with its ids still in hex, as read from the tree. */
export interface TreeSummaryHex {
  subtrees: string[];
  blobs: string[];
  invalid: string[];
}

export function summarizeTree(tree: Tree): TreeSummaryHex {
  const invalid: string[] = [];
  const subtrees: string[] = [];
  const blobs: string[] = [];
  for (const n of tree.nodes) {
    if (n === null || typeof n !== "object" || typeof n.name !== "string") {
      invalid.push("a node without a name");
      continue;
    }
    if (n.type === "dir") {
      if (typeof n.subtree !== "string" || !isIdHex(n.subtree)) invalid.push(`directory ${JSON.stringify(n.name)} has no valid subtree id`);
      else subtrees.push(n.subtree);
    } else if (n.type === "file") {
      if (n.content === undefined) continue;
      if (!Array.isArray(n.content)) {
        invalid.push(`file ${JSON.stringify(n.name)} has an invalid content list`);
        continue;
      }
      for (const b of n.content) {
        if (typeof b !== "string" || !isIdHex(b)) invalid.push(`file ${JSON.stringify(n.name)} names an invalid blob id`);
        else blobs.push(b);
      }
    }
  }
  return { subtrees, blobs, invalid };
}

/** The summary with its ids in binary. */
export function packSummary(s: TreeSummaryHex): TreeSummary {
  return { subtrees: packIds(s.subtrees), blobs: packIds(s.blobs), invalid: s.invalid };
}

function packIds(hex: readonly string[]): Buffer {
  const out = Buffer.allocUnsafe(hex.length * ID_BYTES);
  hex.forEach((h, i) => out.write(h, i * ID_BYTES, ID_BYTES, "hex"));
  return out;
}

/**
 * Many summaries in three transferable parts: every id in one buffer, a table of
 * (tag, subtree count, blob count) per tree, and the rare invalid-node lists.
 */
export interface SummaryBatch {
  ids: Uint8Array;
  /** Per tree: the caller's tag (an entry number), how many subtree ids, how many blob ids. */
  table: Uint32Array;
  invalid: [tree: number, messages: string[]][];
}

/** Writes summaries straight into one growing buffer (no buffer per tree). */
export class SummaryBatchBuilder {
  #ids = Buffer.allocUnsafe(64 * 1024);
  #bytes = 0;
  #table: number[] = [];
  #invalid: [number, string[]][] = [];

  get count(): number {
    return this.#table.length / 3;
  }

  add(tag: number, s: TreeSummaryHex): void {
    if (s.invalid.length) this.#invalid.push([this.count, s.invalid]);
    this.#table.push(tag, s.subtrees.length, s.blobs.length);
    const need = this.#bytes + (s.subtrees.length + s.blobs.length) * ID_BYTES;
    if (need > this.#ids.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.#ids.length * 2));
      this.#ids.copy(grown, 0, 0, this.#bytes);
      this.#ids = grown;
    }
    for (const h of s.subtrees) this.#bytes += this.#ids.write(h, this.#bytes, ID_BYTES, "hex");
    for (const h of s.blobs) this.#bytes += this.#ids.write(h, this.#bytes, ID_BYTES, "hex");
  }

  /** The batch; its buffers are new (transferable). */
  finish(): SummaryBatch {
    return { ids: new Uint8Array(this.#ids.subarray(0, this.#bytes)), table: Uint32Array.from(this.#table), invalid: this.#invalid };
  }
}

/** The summaries of a batch with their tags; the ids are views of the batch's buffer. */
export function* readSummaryBatch(b: SummaryBatch): Generator<[tag: number, summary: TreeSummary]> {
  const invalid = new Map(b.invalid);
  let o = 0;
  for (let t = 0; t * 3 < b.table.length; t++) {
    const tag = b.table[t * 3] ?? 0;
    const subEnd = o + (b.table[t * 3 + 1] ?? 0) * ID_BYTES;
    const blobEnd = subEnd + (b.table[t * 3 + 2] ?? 0) * ID_BYTES;
    yield [tag, { subtrees: b.ids.subarray(o, subEnd), blobs: b.ids.subarray(subEnd, blobEnd), invalid: invalid.get(t) ?? [] }];
    o = blobEnd;
  }
}
