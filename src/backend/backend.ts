/**
 * The storage contract: a plain store of named, immutable files, grouped by type.
 *
 * - `save` writes a whole file atomically and durably: after it resolves the file is complete
 *   and survives a crash; a reader never sees a partial file. Saving a name that exists
 *   replaces it only when `properties.atomicReplace` is true; otherwise it fails.
 * - `load` returns the whole file or the byte range asked for; a range past the end fails.
 * - `list` yields every file of a type (order unspecified), with sizes.
 * - `remove` deletes one file; removing a missing file fails with a not-found error.
 * - Errors: `isNotFound(err)` is true for a missing file; `isPermanent(err)` is true for errors
 *   that a retry will not fix (not found, permission, bad credentials, no such bucket).
 *   Anything else may be retried by a wrapper.
 */
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
  save(h: Handle, data: Uint8Array): Promise<void>;
  load(h: Handle, opts?: LoadOptions): Promise<Buffer>;
  stat(h: Handle): Promise<FileInfo>;
  list(type: FileType): AsyncIterable<FileInfo>;
  remove(h: Handle): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
  isNotFound(err: unknown): boolean;
  isPermanent(err: unknown): boolean;
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
