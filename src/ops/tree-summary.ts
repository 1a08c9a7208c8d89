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

/**
 * Summaries kept until the walk asks for them, as little more than their batches: one map
 * entry per tree (id → batch and position), the summary itself made when it is taken.
 */
export class SummaryStore {
  #batches: { b: SummaryBatch; offsets: Uint32Array }[] = [];
  #where = new Map<string, number>();

  get size(): number {
    return this.#where.size;
  }

  /** Adds a batch; `idOf` names the tree a tag stands for (hex). A tree already held keeps its first summary. */
  add(b: SummaryBatch, idOf: (tag: number) => string): void {
    const n = b.table.length / 3;
    if (n === 0) return;
    const offsets = new Uint32Array(n);
    let o = 0;
    for (let t = 0; t < n; t++) {
      offsets[t] = o;
      o += ((b.table[t * 3 + 1] ?? 0) + (b.table[t * 3 + 2] ?? 0)) * ID_BYTES;
    }
    const no = this.#batches.push({ b, offsets }) - 1;
    for (let t = 0; t < n; t++) {
      const id = idOf(b.table[t * 3] ?? 0);
      if (!this.#where.has(id)) this.#where.set(id, no * 2 ** 24 + t);
    }
  }

  /** The summary of a tree, removed from the store; undefined when none is held. */
  take(id: string): TreeSummary | undefined {
    const at = this.#where.get(id);
    if (at === undefined) return undefined;
    this.#where.delete(id);
    const e = this.#batches[Math.floor(at / 2 ** 24)];
    if (!e) return undefined;
    const t = at % 2 ** 24;
    const start = e.offsets[t] ?? 0;
    const subEnd = start + (e.b.table[t * 3 + 1] ?? 0) * ID_BYTES;
    const end = subEnd + (e.b.table[t * 3 + 2] ?? 0) * ID_BYTES;
    const invalid = e.b.invalid.find(([i]) => i === t)?.[1] ?? [];
    return { subtrees: e.b.ids.subarray(start, subEnd), blobs: e.b.ids.subarray(subEnd, end), invalid };
  }
}
