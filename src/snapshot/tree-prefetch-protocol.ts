import type { TreeLocations } from "../repository/master-index.js";
import type { IdKey } from "../repository/blob-id.js";

/**
 * Messages of the tree prefetcher (tree-prefetch.ts ↔ tree-prefetch-worker.ts). The worker
 * walks the parent snapshot's trees depth first, in the order the backup walks directories,
 * and hands over each tree opened, decompressed and verified: the main thread only parses it.
 */
export interface PrefetchInit {
  key: Uint8Array | null;
  idKey: IdKey;
  /** The parent snapshot's root tree (hex). */
  root: string;
  /**
   * Where the packs are read from, laid out as in a repository: a local repository
   * (Backend.localRoot) or the local cache of a remote one (LocalCache.dir).
   */
  localRoot: string;
  trees: TreeLocations;
  /**
   * Int32 flow control shared with the main thread: [CONSUMED] batches the main thread is
   * done with (the worker stays at most MAX_AHEAD batches ahead), [STOP] set to end the worker,
   * [WAITING] 1 while the worker sleeps until the main thread is at most RESUME_AHEAD behind.
   */
  control: SharedArrayBuffer;
}

export const CONSUMED = 0;
export const STOP = 1;
export const WAITING = 2;
export const CONTROL_BYTES = 12;
export const MAX_AHEAD = 8;
/**
 * A worker that got MAX_AHEAD batches ahead sleeps until only this many are left, and is
 * woken once for them: waking it for every batch consumed cost the main thread about a
 * tenth of an unchanged backup's walk (a futex wake-up, and often the core, each time).
 */
export const RESUME_AHEAD = 4;
/** A batch is posted once it holds this many bytes of trees. */
export const BATCH_BYTES = 128 * 1024;
/** In `lengths`: the tree could not be loaded (the main thread tries itself). */
export const FAILED = 0xffffffff;

export type FromPrefetch =
  /** Trees in walk order: ids (32 bytes each), their plain lengths, their bytes back to back. */
  | { t: "trees"; ids: Uint8Array; lengths: Uint32Array; bytes: Uint8Array }
  /** Every tree has been sent (or the worker stopped). */
  | { t: "end" };
