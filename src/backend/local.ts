import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import {
  checkHandle,
  FILE_TYPES,
  handlePath,
  isNotFoundError,
  isPermanentError,
  isValidHandle,
  loadRange,
  notFoundError,
  typeDir,
  type Backend,
  type BackendProperties,
  type FileInfo,
  type FileType,
  type Handle,
  type LoadOptions,
} from "./backend.js";
import { TEMP_PREFIX } from "./local-temp.js";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const HEX2 = /^[0-9a-f]{2}$/;

/**
 * A repository in a directory of this machine, laid out by `handlePath`.
 *
 * `save` is the one place where data safety is won or lost: it writes a temp file next to the
 * destination, fsyncs it, renames it into place and fsyncs the directory, so after it resolves
 * the file survives a crash, and before that no reader (nor a crash) ever sees a partial file.
 * A failed save removes its temp file; `list` ignores temp files a crash left behind, and prune
 * removes them when they are a day old (local-temp.ts).
 */
export class LocalBackend implements Backend {
  readonly location: string;
  readonly properties: BackendProperties = { kind: "local", connections: 4, atomicReplace: true, remote: false };

  constructor(path: string) {
    this.location = resolve(path);
  }

  localRoot(): string {
    return this.location;
  }

  async create(): Promise<void> {
    if ((await this.#size(this.#path({ type: "config", name: "" }))) !== undefined) {
      throw new CofferError("REPO_EXISTS", `A repository already exists at ${this.location}.`, { location: this.location });
    }
    try {
      await mkdir(this.location, { recursive: true, mode: DIR_MODE });
      for (const type of FILE_TYPES) {
        if (type !== "config") await mkdir(join(this.location, typeDir(type)), { recursive: true, mode: DIR_MODE });
      }
      const subdirs = Array.from({ length: 256 }, (_, i) => join(this.location, "data", i.toString(16).padStart(2, "0")));
      await Promise.all(subdirs.map((d) => mkdir(d, { recursive: true, mode: DIR_MODE })));
    } catch (err) {
      throw ioError(err, `creating the repository at ${this.location}`);
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    checkHandle(h);
    const path = this.#path(h);
    const dir = dirname(path);
    const temp = join(dir, TEMP_PREFIX + randomBytes(8).toString("hex"));
    try {
      await this.#writeTemp(temp, dir, data);
      await rename(temp, path);
      await syncDir(dir);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw ioError(err, `saving ${handlePath(h)} in ${this.location}`);
    }
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    checkHandle(h);
    const fh = await open(this.#path(h), "r").catch((err: unknown) => {
      throw this.#error(err, h, "loading");
    });
    try {
      const { offset, length } = loadRange(h, (await fh.stat()).size, opts);
      const buf = Buffer.allocUnsafe(length);
      for (let done = 0; done < length; ) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        // The file shrank after fstat: report it as the short file it now is.
        if (bytesRead === 0) loadRange(h, offset + done, opts);
        done += bytesRead;
      }
      return buf;
    } catch (err) {
      throw this.#error(err, h, "loading");
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    checkHandle(h);
    try {
      return { name: h.name, size: (await stat(this.#path(h))).size };
    } catch (err) {
      throw this.#error(err, h, "reading the size of");
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    if (type === "config") {
      const size = await this.#size(this.#path({ type, name: "" }));
      if (size !== undefined) yield { name: "", size };
      return;
    }
    const top = join(this.location, typeDir(type));
    // data/ holds 256 subdirectories named by the first two hex digits of their files' names.
    const dirs = type === "data" ? (await this.#names(top)).filter((n) => HEX2.test(n)).map((n) => join(top, n)) : [top];
    for (const dir of dirs) {
      const prefix = type === "data" ? dir.slice(-2) : "";
      for (const name of await this.#names(dir)) {
        if (!isValidHandle({ type, name }) || !name.startsWith(prefix)) continue;
        const size = await this.#size(join(dir, name));
        if (size !== undefined) yield { name, size };
      }
    }
  }

  async remove(h: Handle): Promise<void> {
    checkHandle(h);
    try {
      await unlink(this.#path(h));
    } catch (err) {
      throw this.#error(err, h, "removing");
    }
  }

  async close(): Promise<void> {}

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    return isPermanentError(err);
  }

  #path(h: Handle): string {
    return join(this.location, handlePath(h));
  }

  async #writeTemp(temp: string, dir: string, data: Uint8Array): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(temp, "wx", FILE_MODE);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") throw err;
      await this.#restoreDir(dir);
      fh = await open(temp, "wx", FILE_MODE);
    }
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    // close() can report a deferred write error (NFS), so it is awaited on the success path.
    await fh.close();
  }

  /** A type directory went missing (removed by hand): recreate it, but never the repository. */
  async #restoreDir(dir: string): Promise<void> {
    try {
      await stat(join(this.location, "config"));
    } catch (err) {
      if (sysCode(err) !== "ENOENT") throw err;
      throw new CofferError("REPO_MISSING", `There is no repository at ${this.location}; create one with "coffer init".`, { location: this.location });
    }
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  }

  /** Directory entries; none when the directory does not exist. */
  async #names(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR") return [];
      throw ioError(err, `listing ${dir}`);
    }
  }

  /** The size of a regular file; undefined when it is gone (removed during a listing) or not a file. */
  async #size(path: string): Promise<number | undefined> {
    try {
      const s = await stat(path);
      return s.isFile() ? s.size : undefined;
    } catch (err) {
      if (sysCode(err) === "ENOENT") return undefined;
      throw ioError(err, `listing ${path}`);
    }
  }

  #error(err: unknown, h: Handle, what: string): CofferError {
    if (sysCode(err) === "ENOENT") return notFoundError(h, this.location, err);
    return ioError(err, `${what} ${handlePath(h)} in ${this.location}`);
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
