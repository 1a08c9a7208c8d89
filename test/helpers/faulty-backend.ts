import { ioError, type SystemError } from "../../src/core/errors.js";
import { handlePath, type Backend, type BackendProperties, type FileInfo, type FileType, type Handle, type LoadOptions } from "../../src/backend/backend.js";
import { DelegatingBackend } from "../../src/backend/delegating-backend.js";

export type BackendOp = "create" | "save" | "load" | "stat" | "list" | "remove";

export interface CallFault {
  op: BackendOp;
  /** The first call that fails, counted from 1 per operation since the wrapper was made. */
  nth: number;
  /** How many calls fail from `nth` on (default 1; Infinity for all). */
  times?: number;
  /** What is thrown (default: a transient I/O error, as local throws for EIO). */
  error?: unknown;
}

export interface Faults {
  /** Disk size: a save that would bring the bytes saved through the wrapper above it fails with NO_SPACE. */
  spaceBytes?: number;
  calls?: CallFault[];
  /** Loads of handles it accepts throw `loadError` (default: a transient I/O error). */
  failLoad?: (h: Handle) => boolean;
  loadError?: unknown;
  /** Loads of handles it accepts return the bytes with the middle byte inverted. */
  corruptLoad?: (h: Handle) => boolean;
}

/** A Node system error, as fs would throw it. */
export function systemError(code: string, message: string, syscall = "write"): SystemError {
  return Object.assign(new Error(`${code}: ${message} (injected by FaultyBackend)`), { code, syscall, errno: -1 });
}

/**
 * Wraps a backend and injects the failures that fault tests need, throwing the very errors the
 * local driver throws (CofferError NO_SPACE for a full disk, IO with `data.sys` otherwise), so
 * `isPermanent` and `isNotFound` (delegated to the inner backend) classify them as for real.
 * `faults` may be changed at any time; `calls` counts calls per operation.
 */
export class FaultyBackend extends DelegatingBackend {
  readonly calls: Record<BackendOp, number> = { create: 0, save: 0, load: 0, stat: 0, list: 0, remove: 0 };
  /** Bytes of the saves that succeeded; removes do not give space back. */
  savedBytes = 0;

  constructor(
    inner: Backend,
    public faults: Faults = {},
  ) {
    super(inner);
  }

  override get properties(): BackendProperties {
    return this.inner.properties;
  }

  override async create(): Promise<void> {
    this.#call("create");
    return this.inner.create();
  }

  override async save(h: Handle, data: Uint8Array): Promise<void> {
    this.#call("save", h);
    const limit = this.faults.spaceBytes;
    if (limit !== undefined && this.savedBytes + data.byteLength > limit) {
      throw ioError(systemError("ENOSPC", "no space left on device"), `saving ${handlePath(h)} in ${this.location}`);
    }
    await this.inner.save(h, data);
    this.savedBytes += data.byteLength;
  }

  override async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    this.#call("load", h);
    if (this.faults.failLoad?.(h)) throw this.faults.loadError ?? transient("load", h, this.location, "read");
    const data = await this.inner.load(h, opts);
    if (this.faults.corruptLoad?.(h) && data.length > 0) {
      const i = data.length >> 1;
      data[i] = (data[i] ?? 0) ^ 0xff;
    }
    return data;
  }

  override async stat(h: Handle): Promise<FileInfo> {
    this.#call("stat", h);
    return this.inner.stat(h);
  }

  override async *list(type: FileType): AsyncIterable<FileInfo> {
    this.#call("list");
    yield* this.inner.list(type);
  }

  override async remove(h: Handle): Promise<void> {
    this.#call("remove", h);
    return this.inner.remove(h);
  }

  #call(op: BackendOp, h?: Handle): void {
    const n = ++this.calls[op];
    for (const f of this.faults.calls ?? []) {
      if (f.op === op && n >= f.nth && n < f.nth + (f.times ?? 1)) throw f.error ?? transient(op, h, this.location);
    }
  }
}

const VERB: Record<BackendOp, string> = { create: "creating", save: "saving", load: "loading", stat: "reading the size of", list: "listing", remove: "removing" };

/** What local throws for EIO: CofferError IO, not permanent. */
function transient(op: BackendOp, h: Handle | undefined, location: string, syscall = "write"): Error {
  return ioError(systemError("EIO", "i/o error", syscall), `${VERB[op]} ${h ? handlePath(h) : "files"} in ${location}`);
}
