/**
 * Messages between `check` (main thread) and its data-verification workers. The main thread
 * only loads packs and transfers their bytes; a worker hashes the whole pack, opens its header
 * and decrypts, decompresses and verifies every blob the index says it holds.
 */
export interface CheckWorkerInit {
  /** The master key; null in mode `none`. */
  key: Uint8Array | null;
  idKey: Uint8Array;
}

export interface VerifyPack {
  t: "verify";
  seq: number;
  /** The pack id (its expected SHA-256). */
  id: string;
  /** The whole pack; its ArrayBuffer is transferred, not copied. */
  bytes: Uint8Array;
  /** The index entries of the pack, in pack-header encoding (`encodeHeader`). */
  entries: Uint8Array;
}

export type ToCheckWorker = VerifyPack;

export interface PackVerdict {
  seq: number;
  /** The SHA-256 of the bytes, when it is not the pack's name. */
  badHash?: string;
  /** Why the header could not be opened, or how it disagrees with the index. */
  headerProblem?: string;
  /** Index entries (by position in `entries`) that failed, with the reason. */
  failed: { i: number; message: string }[];
}

export type FromCheckWorker = ({ t: "verdict" } & PackVerdict) | { t: "fatal"; seq: number; message: string };
