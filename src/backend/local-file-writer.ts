import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { ioError, sysCode } from "../core/errors.js";
import { checkHandle, handlePath, isPermanentError, typeDir, type FileType } from "./backend.js";
import { TEMP_PREFIX } from "./local-temp.js";

/** The synchronous fs calls the writer makes (injected in tests). */
export interface WriterFs {
  openSync: typeof fs.openSync;
  writeSync: (fd: number, b: Uint8Array, offset: number, length: number, position: number) => number;
  fsyncSync: typeof fs.fsyncSync;
  closeSync: typeof fs.closeSync;
  renameSync: typeof fs.renameSync;
  unlinkSync: typeof fs.unlinkSync;
  mkdirSync: typeof fs.mkdirSync;
  statSync: typeof fs.statSync;
}

export interface LocalFileWriterOptions {
  fs?: WriterFs;
  /** Blocks for this long between attempts (injected in tests). */
  sleep?: (ms: number) => void;
}

/** Waits before the 2nd, 3rd and 4th attempt of a step that failed with a transient error (EIO, EAGAIN, ...). */
export const WRITER_RETRY_DELAYS_MS: readonly number[] = [50, 250, 1000];

/**
 * Writes one file of a local repository incrementally, for writers that do not know its name
 * until the end (a pack is named by the SHA-256 of all its bytes). The bytes go to a temp file
 * in the type's directory; `commit` fsyncs it, renames it to its final place and fsyncs that
 * directory: the same durability as LocalBackend.save, without holding the file in memory.
 * Synchronous, for worker threads, where blocking costs nothing else.
 *
 * Transient errors (EIO, EAGAIN, EBUSY, ...; not ENOSPC, EACCES and the like) are retried
 * where a retry is sound: opening the temp file, each write (at its explicit position, so a
 * repeated write puts the same bytes in the same place) and the rename. A failed fsync is not
 * retried: after one the kernel may have dropped the unwritten pages and a second fsync would
 * report success for data that never reached the disk, and the bytes are not held to write
 * again. That failure fails the file, as it does in LocalBackend.save (whose caller, the retry
 * wrapper, can start over from its buffer).
 */
export class LocalFileWriter {
  readonly #root: string;
  readonly #type: FileType;
  #temp: string;
  readonly #fs: WriterFs;
  readonly #sleep: (ms: number) => void;
  #fd: number | undefined;
  #size = 0;

  constructor(root: string, type: FileType, opts: LocalFileWriterOptions = {}) {
    this.#root = root;
    this.#type = type;
    this.#fs = opts.fs ?? fs;
    this.#sleep = opts.sleep ?? sleepSync;
    const tempName = (): string => join(root, typeDir(type), `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
    this.#temp = tempName();
    try {
      // A new name for each attempt: a failed one may have created its file (prune removes it later).
      this.#fd = this.#retry(() => this.#fs.openSync((this.#temp = tempName()), "wx", 0o600));
    } catch (err) {
      throw ioError(err, `creating a temporary file in ${join(root, typeDir(type))}`);
    }
  }

  get size(): number {
    return this.#size;
  }

  write(b: Uint8Array): void {
    try {
      for (let done = 0; done < b.length; ) {
        done += this.#retry(() => this.#fs.writeSync(this.#fd as number, b, done, b.length - done, this.#size + done));
      }
      this.#size += b.length;
    } catch (err) {
      this.abort();
      throw ioError(err, `writing to ${this.#root}`);
    }
  }

  /** Makes the file durable under its final name. */
  commit(name: string): void {
    const h = { type: this.#type, name };
    checkHandle(h);
    const path = join(this.#root, handlePath(h));
    try {
      this.#fs.fsyncSync(this.#fd as number);
      this.#fs.closeSync(this.#fd as number);
      this.#fd = undefined;
      this.#fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // A rename that failed but happened after all (the temp gone, the file there, whole) is done.
      this.#retry(
        () => this.#fs.renameSync(this.#temp, path),
        (err) => sysCode(err) === "ENOENT" && this.#renamed(path),
      );
      const dfd = this.#fs.openSync(dirname(path), "r");
      try {
        this.#fs.fsyncSync(dfd);
      } finally {
        this.#fs.closeSync(dfd);
      }
    } catch (err) {
      this.abort();
      throw ioError(err, `saving ${handlePath(h)} in ${this.#root}`);
    }
  }

  /** Removes the temp file (after a failure); safe to call twice. */
  abort(): void {
    if (this.#fd !== undefined) {
      try {
        this.#fs.closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = undefined;
    }
    try {
      this.#fs.unlinkSync(this.#temp);
    } catch {
      // renamed or never created
    }
  }

  /**
   * Runs `step`, again after each wait of WRITER_RETRY_DELAYS_MS while it fails with a
   * transient system error. An error `done` accepts on a retry means the step took effect.
   */
  #retry<T>(step: () => T, done?: (err: unknown) => boolean): T {
    for (let attempt = 0; ; attempt++) {
      try {
        return step();
      } catch (err) {
        if (attempt > 0 && done?.(err)) return undefined as T;
        const delay = WRITER_RETRY_DELAYS_MS[attempt];
        if (delay === undefined || sysCode(err) === undefined || isPermanentError(err)) throw err;
        this.#sleep(delay);
      }
    }
  }

  #renamed(path: string): boolean {
    try {
      return this.#fs.statSync(path).size === this.#size;
    } catch {
      return false;
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
