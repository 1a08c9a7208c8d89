/**
 * The storage contract: a plain store of named, immutable files, grouped by type.
 *
 * - `save` writes a whole file atomically and durably: after it resolves the file is complete
 *   and survives a crash; a reader never sees a partial file. Saving a name that exists
 *   replaces it only when `properties.atomicReplace` is true; otherwise it fails. A caller
 *   that knows the SHA-256 of the bytes passes it (`SaveOptions`), so a driver that sends it
 *   need not hash them again.
 * - `load` returns the whole file or the byte range asked for; a range past the end fails
 *   (CORRUPT, see `loadRange`). The returned buffer is the caller's: mutating it, or the buffer
 *   given to `save`, never changes what is stored.
 * - `list` yields every file of a type (order unspecified), with sizes.
 * - `remove` deletes one file; removing a missing file fails with a not-found error.
 * - Errors: `isNotFound(err)` is true for a missing file; `isPermanent(err)` is true for errors
 *   that a retry will not fix (not found, permission, bad credentials, no such bucket).
 *   Anything else may be retried by a wrapper. Drivers throw CofferError (NOT_FOUND for a
 *   missing file, NO_SPACE for a full store, INVALID for a name `isValidHandle` refuses).
 */
import { CofferError, isCofferError, sysCode, type ErrorCode } from "../core/errors.js";

export type FileType = "config" | "key" | "data" | "index" | "snapshot" | "lock";

export const FILE_TYPES: readonly FileType[] = ["config", "key", "data", "index", "snapshot", "lock"];

export interface Handle {
  type: FileType;
  /** Empty for `config`; a 64-hex id (or key id) otherwise. */
  name: string;
}

export interface FileInfo {
  name: string;
  size: number;
}

export interface BackendProperties {
  /** Driver name: local, memory, s3, sftp, rest. */
  kind: string;
  /** How many requests may usefully run at once. */
  connections: number;
  /** Whether `save` over an existing name replaces it atomically. */
  atomicReplace: boolean;
  /** True when the storage is not on this machine (counts as off-site by default). */
  remote: boolean;
}

export interface SaveOptions {
  /**
   * The SHA-256 of the bytes (64 lower-case hex digits), when the caller knows it: every file
   * but the config is named by it. A driver may send it for the server to check the bytes
   * against (S3's signed payload hash) instead of computing a digest of its own. A wrong value
   * makes such a server refuse the upload; it never stores wrong bytes.
   */
  sha256?: string;
  /**
   * The MD5 of the bytes in base64, when the caller knows it but not their SHA-256 (a pack
   * named by BLAKE3): a driver may send it for the server to check the bytes against (S3's
   * Content-MD5) instead of computing it.
   */
  md5?: string;
}

export interface LoadOptions {
  offset?: number;
  length?: number;
}

export interface Backend {
  /** A location string a person recognises (path or URL, no secrets). */
  readonly location: string;
  readonly properties: BackendProperties;
  /** Creates the container (directories, bucket prefix). Fails if a config already exists. */
  create(): Promise<void>;
  save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void>;
  load(h: Handle, opts?: LoadOptions): Promise<Buffer>;
  stat(h: Handle): Promise<FileInfo>;
  list(type: FileType): AsyncIterable<FileInfo>;
  remove(h: Handle): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
  isNotFound(err: unknown): boolean;
  isPermanent(err: unknown): boolean;
  /**
   * Optional: the directory of a plain local repository, so writers in worker threads can
   * save packs themselves (same atomic, durable writes) instead of sending them to the main
   * thread. Wrappers forward it; test doubles that inject faults must not.
   */
  localRoot?(): string | undefined;
}

/** Where a handle lives: `data/<2 hex>/<id>`, `keys/<id>`, `config`, ... */
export function handlePath(h: Handle): string {
  switch (h.type) {
    case "config":
      return "config";
    case "key":
      return `keys/${h.name}`;
    case "data":
      return `data/${h.name.slice(0, 2)}/${h.name}`;
    case "index":
      return `index/${h.name}`;
    case "snapshot":
      return `snapshots/${h.name}`;
    case "lock":
      return `locks/${h.name}`;
  }
}

/** The directory of a type: `data`, `keys`, ...; empty for config. */
export function typeDir(type: FileType): string {
  switch (type) {
    case "config":
      return "";
    case "key":
      return "keys";
    case "data":
      return "data";
    case "index":
      return "index";
    case "snapshot":
      return "snapshots";
    case "lock":
      return "locks";
  }
}

// Helpers every driver shares, so that the contract above is enforced and worded the same way
// whatever the storage; they hold no state.

// A stored name never starts with "." (temp files are `.tmp-*`, and "." / ".." never name a
// file) and never holds "/" (a name cannot leave its directory).
const NAME = /^[0-9A-Za-z_-][0-9A-Za-z._-]{0,254}$/;

/**
 * Whether a handle names a file a driver may store: `config` has the empty name; every other
 * type a name of 1–255 characters from `[0-9A-Za-z._-]` that does not start with "."; a `data`
 * name starts with two lower-case hex digits, the subdirectory it lives in.
 */
export function isValidHandle(h: Handle): boolean {
  if (h.type === "config") return h.name === "";
  if (!NAME.test(h.name)) return false;
  return h.type !== "data" || /^[0-9a-f]{2}/.test(h.name);
}

/** Throws CofferError INVALID unless `isValidHandle(h)`: a caller's bug, never retried. */
export function checkHandle(h: Handle): void {
  if (!isValidHandle(h)) {
    throw new CofferError("INVALID", `${JSON.stringify(h.name)} is not a valid name for a ${h.type} file; this is a bug in coffer.`, { type: h.type, name: h.name });
  }
}

/** The error every driver throws for a missing file (`isNotFoundError` is true for it). */
export function notFoundError(h: Handle, location: string, cause?: unknown): CofferError {
  return new CofferError("NOT_FOUND", `${handlePath(h)} does not exist in ${location}.`, { type: h.type, name: h.name, sys: "ENOENT" }, { cause });
}

/**
 * Checks `opts` against a file of `size` bytes and returns the range to read. A negative or
 * fractional number is INVALID; a range reaching past the end is CORRUPT (the file is shorter
 * than its index says: truncated). An offset equal to the size with no length gives 0 bytes.
 */
export function loadRange(h: Handle, size: number, opts: LoadOptions = {}): { offset: number; length: number } {
  const offset = opts.offset ?? 0;
  const length = opts.length ?? size - offset;
  if (!Number.isSafeInteger(offset) || offset < 0 || (opts.length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new CofferError("INVALID", `Invalid range (offset ${opts.offset}, length ${opts.length}) for ${handlePath(h)}; this is a bug in coffer.`, { ...opts });
  }
  if (offset + length > size || length < 0) {
    throw new CofferError(
      "CORRUPT",
      `${handlePath(h)} has ${size} bytes, fewer than the ${offset + Math.max(length, 0)} that a read at offset ${offset} needs; the file may be truncated, run "coffer check".`,
      { type: h.type, name: h.name, size, offset, length: opts.length },
    );
  }
  return { offset, length };
}

/** True for a missing file: CofferError NOT_FOUND or a raw ENOENT. */
export function isNotFoundError(err: unknown): boolean {
  return isCofferError(err, "NOT_FOUND") || sysCode(err) === "ENOENT";
}

const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["NOT_FOUND", "INVALID", "CORRUPT", "NO_SPACE", "REPO_EXISTS", "REPO_MISSING", "UNSUPPORTED", "USAGE", "WRONG_PASSWORD"]);
const PERMANENT_SYS: ReadonlySet<string> = new Set(["ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ENOSPC", "EDQUOT", "EROFS", "ENAMETOOLONG", "ELOOP", "EINVAL"]);

/**
 * True for errors a retry will not fix: the codes above, and system errors (raw, or wrapped by
 * `ioError` into `data.sys`) such as ENOENT, EACCES, EPERM, EISDIR, ENOSPC. Transient ones
 * (EIO, EAGAIN, EBUSY, EMFILE, network errors, anything unknown) are false.
 */
export function isPermanentError(err: unknown): boolean {
  if (err instanceof CofferError) {
    if (PERMANENT_CODES.has(err.code)) return true;
    const sys = err.data["sys"];
    return typeof sys === "string" && PERMANENT_SYS.has(sys);
  }
  const sys = sysCode(err);
  return sys !== undefined && PERMANENT_SYS.has(sys);
}
