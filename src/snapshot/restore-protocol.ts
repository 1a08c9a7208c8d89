/**
 * Messages between the restorer (main thread) and its worker threads. Each job is one range of
 * one pack and where every blob in it goes; the worker reads the range itself from a local
 * repository (`read`), or is handed the bytes the main thread fetched (`data`, transferred);
 * it opens, checks and writes. Binary fields are typed arrays (cheap to clone).
 */
import type { FdMeta } from "./native.js";
import type { IdKey } from "../repository/blob-id.js";

export interface RestoreWorkerInit {
  key: Uint8Array | null;
  idKey: IdKey;
  /** The largest blob the chunker makes (the workers' buffers are sized for it). */
  maxBlob: number;
}

/** A pack range read at once holds at most this many bytes (or one larger blob). */
export const MAX_RANGE = 4 * 1024 * 1024;

/** Fields per blob in `WriteJob.blobs`. */
export const BLOB_FIELDS = 6;
// offset in data | stored length | raw length | compressed (0/1) | first target | target count

/** Fields per target in `WriteJob.targets`: file number | offset in the file. */
export const TARGET_FIELDS = 2;

/** Metadata a worker applies to a file once it has written all of it (through the fd). */
export interface FileMeta extends FdMeta {
  file: number;
  /** Final size: the file is extended to it when its last bytes were zeros (not written). */
  size: number;
}

export interface WriteJob {
  t: "write";
  job: number;
  /** The bytes of one range of one pack (fetched by the main thread), or... */
  data?: Uint8Array;
  /** ...where the worker reads them: a pack file of a local repository and the range. */
  read?: { path: string; offset: number; length: number };
  /** For naming the pack in errors. */
  pack: string;
  /** 32 bytes per blob. */
  ids: Uint8Array;
  blobs: Float64Array;
  targets: Float64Array;
  /** Paths of the files this job writes to that the worker may not know yet: file, path. */
  paths: [number, Uint8Array][];
  /**
   * Files all of whose bytes are in this job: the worker creates them (O_EXCL, nothing is at
   * their place), writes them, sets their size and applies their metadata.
   */
  finish: FileMeta[];
  /** Files the worker may close (all written). */
  close: number[];
}

export interface VerifyFile {
  file: number;
  path: Uint8Array;
  /** 32 bytes per content blob, in order. */
  ids: Uint8Array;
  /** Raw length of each content blob. */
  lengths: Float64Array;
}

export type ToRestoreWorker =
  | WriteJob
  | { t: "verify"; job: number; files: VerifyFile[] }
  | { t: "close"; files: number[] }
  /** Close every file and exit. */
  | { t: "end" };

export interface WriteOutcome {
  /** The worker could not read the range (`read`): nothing was written. */
  readError?: string;
  /** Bytes written (all-zero blobs are skipped: they stay holes). */
  written: number;
  /** Blobs that failed to open or verify: index in the job and why. */
  blobErrors: { blob: number; message: string }[];
  /** Files a write or the metadata failed for. */
  fileErrors: { file: number; message: string }[];
}

export interface VerifyOutcome {
  file: number;
  bytes: number;
  /** Undefined when every blob matched. */
  problem?: string;
}

export type FromRestoreWorker =
  | ({ t: "written"; job: number } & WriteOutcome)
  | { t: "verified"; job: number; files: VerifyOutcome[] }
  | { t: "fatal"; message: string; stack?: string };
