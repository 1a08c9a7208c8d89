import type { IdKey } from "../repository/blob-id.js";
import type { PackHash } from "../repository/pack-hash.js";
import type { UploadCheck } from "../repository/upload-digest.js";

/**
 * Messages between the archiver (main thread) and its worker threads. A job is a batch of
 * files; for each segment of chunks (≤ ~16 MiB) the worker asks which blob ids are new, packs
 * only those, and hands finished packs back. Binary fields are Uint8Arrays (structured clone).
 */
export interface WorkerInit {
  key: Uint8Array | null;
  idKey: IdKey;
  chunker: { min: number; avg: number; max: number; seed: string };
  level: number;
  packSize: number;
  /** The hash that names packs (the config's pack_hash). */
  packHash: PackHash;
  /** A plain local repository: the worker saves its packs itself (see Backend.localRoot). */
  localRoot?: string;
}

export interface JobFile {
  path: Uint8Array;
  /** Size at scan time (a hint for buffer sizing). */
  size: number;
}

/**
 * Binary fields travel packed into one owned buffer per message: a Buffer view into Node's
 * 8 KiB pool would be cloned whole, once per field, which cost seconds per backup.
 */
export type ToWorker =
  | { t: "job"; job: number; paths: Uint8Array; pathLengths: number[] }
  | { t: "claims"; job: number; want: Uint8Array }
  | { t: "packAck" }
  /** A pack's buffer back, once its upload is done: the worker builds its next pack in it. */
  | { t: "spare"; buffer: ArrayBuffer }
  | { t: "flush" }
  /** Stop: remove the pack file being written; answered at once, even in the middle of a job. */
  | { t: "abort" };

export interface FileOutcome {
  /** 32 bytes per data blob, in order. */
  ids: Uint8Array;
  bytesRead: number;
  /** The file changed while it was read (size, mtime or ctime moved). */
  changed: boolean;
  /** Set when the file could not be read; nothing else is meaningful then. */
  error?: { code: string | undefined; message: string };
}

export type FromWorker =
  | { t: "hashes"; job: number; ids: Uint8Array }
  | { t: "pack"; id: string; bytes: Uint8Array; header: Uint8Array; check?: UploadCheck }
  /** The worker saved this pack itself (durably) under `localRoot`. */
  | { t: "packSaved"; id: string; size: number; header: Uint8Array }
  | { t: "done"; job: number; ids: Uint8Array; files: Omit<FileOutcome, "ids">[]; idCounts: number[] }
  | { t: "flushed" }
  | { t: "aborted" }
  | { t: "fatal"; message: string; code?: string; stack?: string };
