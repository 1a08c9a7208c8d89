import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ioError } from "../core/errors.js";
import { checkHandle, handlePath, typeDir, type FileType } from "./backend.js";
import { TEMP_PREFIX } from "./local-temp.js";

/**
 * Writes one file of a local repository incrementally, for writers that do not know its name
 * until the end (a pack is named by the SHA-256 of all its bytes). The bytes go to a temp file
 * in the type's directory; `commit` fsyncs it, renames it to its final place and fsyncs that
 * directory: the same durability as LocalBackend.save, without holding the file in memory.
 * Synchronous, for worker threads, where blocking costs nothing else.
 */
export class LocalFileWriter {
  readonly #root: string;
  readonly #type: FileType;
  readonly #temp: string;
  #fd: number | undefined;
  #size = 0;

  constructor(root: string, type: FileType) {
    this.#root = root;
    this.#type = type;
    this.#temp = join(root, typeDir(type), `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
    try {
      this.#fd = openSync(this.#temp, "wx", 0o600);
    } catch (err) {
      throw ioError(err, `creating a temporary file in ${join(root, typeDir(type))}`);
    }
  }

  get size(): number {
    return this.#size;
  }

  write(b: Uint8Array): void {
    try {
      for (let done = 0; done < b.length; ) done += writeSync(this.#fd as number, b, done, b.length - done);
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
      fsyncSync(this.#fd as number);
      closeSync(this.#fd as number);
      this.#fd = undefined;
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      renameSync(this.#temp, path);
      const dfd = openSync(dirname(path), "r");
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
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
        closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = undefined;
    }
    try {
      unlinkSync(this.#temp);
    } catch {
      // renamed or never created
    }
  }
}
