import { packHasher, type PackHash } from "../repository/pack-hash.js";
import type { Crypter } from "../crypto/aead.js";
import { type BlobEntry, decodeBlob } from "../repository/blob.js";
import { parsePackTail } from "../repository/pack.js";
import { decodeTree } from "../snapshot/tree.js";
import type { BlobVerifier } from "./blob-verifier.js";
import type { PackBytes } from "./pack-bytes.js";
import { describeDiff, diffEntries, sealedHeaderLength } from "./pack-header.js";
import { type SummaryBatch, SummaryBatchBuilder, summarizeTree } from "./tree-summary.js";
import type { IdKey } from "../repository/blob-id.js";

/**
 * Verifying one pack in a single pass (`check --read-data`, in a worker): its header is read
 * from the tail, then every byte goes through SHA-256 in order while each blob is opened,
 * decompressed and checked against its id as soon as its last byte has arrived. Trees that
 * verify are summarised for the tree walk, so the walk needs no second read of them.
 */
export interface PackVerdict {
  /** The hash of the bytes (the repository's pack hash), when it is not the pack's name. */
  badHash?: string;
  /** Why the header could not be opened, or how it disagrees with the index. */
  headerProblem?: string;
  /** Index entries (by position in `entries`) that failed, with the reason, in entry order. */
  failed: { i: number; message: string }[];
  /** Summaries of the tree blobs that verified, tagged with their entry's position. */
  trees?: SummaryBatch;
}

export interface VerifyOptions {
  crypter: Crypter;
  idKey: IdKey;
  /** Verifies data blobs (trees are decoded whole, to be summarised). */
  blobs: BlobVerifier;
  /** Summarise the trees that verify. */
  trees: boolean;
  /** Bytes hashed (and read, for a file) at a time. */
  piece: number;
  /** The hash that names packs (the config's pack_hash). */
  packHash: PackHash;
  /** Told how many bytes each blob's decoding allocated (so a worker can collect early). */
  allocated?(bytes: number): void;
}

export function verifyPack(src: PackBytes, id: string, entries: readonly BlobEntry[], o: VerifyOptions): PackVerdict {
  const where = `pack ${id.slice(0, 8)}`;
  const verdict: PackVerdict = { failed: [] };
  const size = src.size;

  let dataEnd = size;
  try {
    const first = Math.min(size, sealedHeaderLength(entries.length, o.crypter) + 4);
    let h = parsePackTail(src.tail(first), size, o.crypter, id);
    if (h.headerLength + 4 > first) h = parsePackTail(src.tail(h.headerLength + 4), size, o.crypter, id);
    dataEnd = size - 4 - h.headerLength;
    const diff = diffEntries(entries, h.entries);
    if (diff.missing.length || diff.extra.length) verdict.headerProblem = `its header does not match the index: ${describeDiff(diff)}`;
  } catch (err) {
    verdict.headerProblem = message(err);
  }

  // Blobs are verified where the index says they are: that is where a restore reads them.
  const order: number[] = [];
  entries.forEach((e, i) => {
    if (e.offset + e.length > dataEnd) verdict.failed.push({ i, message: `${e.type} blob ${e.id.toString("hex").slice(0, 8)} lies outside the data of ${where}` });
    else order.push(i);
  });
  order.sort((a, b) => (entries[a]?.offset ?? 0) - (entries[b]?.offset ?? 0) || a - b);

  const trees = o.trees ? new SummaryBatchBuilder() : undefined;
  const digest = streamPack(src, entries, order, where, o, trees, verdict.failed);
  if (digest !== id) verdict.badHash = digest;
  verdict.failed.sort((a, b) => a.i - b.i);
  if (trees?.count) verdict.trees = trees.finish();
  return verdict;
}

/**
 * The hot loop, kept apart (and small) so the optimising compiler keeps one stable version of
 * it across packs: every byte through the pack hash a piece at a time, each blob (in `order`)
 * verified once its last byte is in. Returns the pack's hash in hex.
 */
function streamPack(src: PackBytes, entries: readonly BlobEntry[], order: readonly number[], where: string, o: VerifyOptions, trees: SummaryBatchBuilder | undefined, failed: PackVerdict["failed"]): string {
  const hash = packHasher(o.packHash);
  const size = src.size;
  let next = 0;
  for (let pos = 0; pos < size; ) {
    const end = Math.min(size, pos + o.piece);
    const waiting = entries[order[next] ?? -1];
    hash.update(src.advance(end, waiting ? Math.min(waiting.offset, pos) : pos));
    pos = end;
    for (let e = entries[order[next] ?? -1]; e && e.offset + e.length <= pos; e = entries[order[++next] ?? -1]) {
      const problem = verifyBlob(src.view(e.offset, e.offset + e.length), e, order[next] ?? 0, where, o, trees);
      if (problem !== undefined) failed.push({ i: order[next] ?? 0, message: problem });
    }
  }
  return hash.hex();
}

/** Verifies one blob (a tree is also summarised); returns why it fails, if it does. */
function verifyBlob(stored: Buffer, e: BlobEntry, i: number, where: string, o: VerifyOptions, trees: SummaryBatchBuilder | undefined): string | undefined {
  try {
    if (e.type === "data") o.blobs.verify(stored, e, where);
    else {
      const plain = decodeBlob(stored, e, o.crypter, o.idKey, where);
      if (trees) summarizeInto(trees, i, plain);
    }
    o.allocated?.(e.length + (e.type === "tree" && e.compressed ? e.rawLength : 0));
    return undefined;
  } catch (err) {
    return message(err);
  }
}

/**
 * The tree blobs of one range of a pack that was not read whole (`check` without
 * `--read-data`): each is verified and summarised. A tree that fails is left out; the walk
 * loads it again itself and reports why.
 */
export function summarizeTrees(span: Buffer, base: number, pack: string, entries: readonly BlobEntry[], o: Pick<VerifyOptions, "crypter" | "idKey" | "allocated">): SummaryBatch {
  const where = `pack ${pack.slice(0, 8)}`;
  const trees = new SummaryBatchBuilder();
  entries.forEach((e, i) => {
    const at = e.offset - base;
    if (at < 0 || at + e.length > span.length) return;
    try {
      const plain = decodeBlob(span.subarray(at, at + e.length), e, o.crypter, o.idKey, where);
      o.allocated?.(e.length + (e.compressed ? e.rawLength : 0));
      summarizeInto(trees, i, plain);
    } catch {
      // reported by the walk, which loads it again
    }
  });
  return trees.finish();
}

function summarizeInto(trees: SummaryBatchBuilder, i: number, plain: Buffer): void {
  try {
    trees.add(i, summarizeTree(decodeTree(plain)));
  } catch {
    // not a valid tree: the walk loads it again and reports why
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
