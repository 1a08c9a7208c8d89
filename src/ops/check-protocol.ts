import type { ErrorCode } from "../core/errors.js";
import type { SummaryBatch } from "./tree-summary.js";
import type { PackVerdict } from "./verify-pack.js";
import type { IdKey } from "../repository/blob-id.js";
import type { PackHash } from "../repository/pack-hash.js";

/**
 * Messages between `check` (main thread) and its workers. A worker verifies whole packs
 * (reading a local pack file itself, or given the bytes the main thread loaded) and
 * summarises tree blobs for the tree walk.
 */
export interface CheckWorkerInit {
  /** The master key; null in mode `none`. */
  key: Uint8Array | null;
  idKey: IdKey;
  /** The largest plaintext a data blob can have (the chunker's maximum). */
  maxBlob: number;
  /** The hash that names packs (the config's pack_hash). */
  packHash: PackHash;
}

/** Verify one whole pack: its hash, its header, and every blob the index says it holds. */
export interface VerifyPack {
  t: "verify";
  seq: number;
  /** The pack id (its expected SHA-256). */
  id: string;
  /** The index entries of the pack, in pack-header encoding (`encodeHeader`). */
  entries: Uint8Array;
  /** Summarise its trees. */
  trees: boolean;
  /** A local pack file the worker reads itself... */
  path?: string;
  /** ...or the whole pack, its ArrayBuffer transferred. */
  bytes?: Uint8Array;
}

/** Verify and summarise the tree blobs of a range of a pack that is not read whole. */
export interface SummarizeTrees {
  t: "trees";
  seq: number;
  pack: string;
  /** The range's offset in the pack. */
  base: number;
  /** The range (transferred). */
  bytes: Uint8Array;
  /** The tree entries, in pack-header encoding. */
  entries: Uint8Array;
}

/** Open, hash-check and parse one index file. */
export interface ReadIndex {
  t: "index";
  seq: number;
  /** The index file's id (its expected SHA-256). */
  id: string;
  /** Its bytes (transferred). */
  bytes: Uint8Array;
}

export type ToCheckWorker = VerifyPack | SummarizeTrees | ReadIndex;

export type FromCheckWorker =
  | ({ t: "verdict"; seq: number; /** Bytes read. */ size: number } & PackVerdict)
  /** A local pack file could not be read; the main thread loads it through the backend. */
  | { t: "unreadable"; seq: number; message: string }
  | { t: "trees"; seq: number; trees: SummaryBatch }
  /** An index file: its packs, each one's entries (pack-header encoding, one after another in `entries`), what it supersedes. */
  | { t: "index"; seq: number; packs: string[]; counts: Uint32Array; entries: Uint8Array; supersedes: string[] }
  /** An index file that is damaged (or of a newer format): why, as a CofferError's code and message. */
  | { t: "damaged"; seq: number; code: ErrorCode; message: string }
  | { t: "fatal"; seq: number; message: string };
