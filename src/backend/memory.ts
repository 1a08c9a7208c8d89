import { CofferError } from "../core/errors.js";
import {
  checkHandle,
  FILE_TYPES,
  isNotFoundError,
  isPermanentError,
  loadRange,
  notFoundError,
  type Backend,
  type BackendProperties,
  type FileInfo,
  type FileType,
  type Handle,
  type LoadOptions,
} from "./backend.js";

/**
 * The reference driver: files in a Map, for tests. Every other driver behaves like this one
 * in the conformance suite. It stores and returns copies, so no caller can alias stored bytes.
 */
export class MemoryBackend implements Backend {
  readonly properties: BackendProperties = { kind: "memory", connections: 8, atomicReplace: true, remote: false };
  readonly #files = new Map<FileType, Map<string, Buffer>>(FILE_TYPES.map((t) => [t, new Map()]));

  constructor(readonly location = "memory:") {}

  async create(): Promise<void> {
    if (this.#of("config").has("")) {
      throw new CofferError("REPO_EXISTS", `A repository already exists at ${this.location}.`);
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    checkHandle(h);
    this.#of(h.type).set(h.name, Buffer.from(data));
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    const stored = this.#get(h);
    const { offset, length } = loadRange(h, stored.length, opts);
    return Buffer.from(stored.subarray(offset, offset + length));
  }

  async stat(h: Handle): Promise<FileInfo> {
    return { name: h.name, size: this.#get(h).length };
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    // A snapshot of the names, so saves and removes during the iteration are safe.
    for (const [name, data] of [...this.#of(type)]) yield { name, size: data.length };
  }

  async remove(h: Handle): Promise<void> {
    checkHandle(h);
    if (!this.#of(h.type).delete(h.name)) throw notFoundError(h, this.location);
  }

  async close(): Promise<void> {}

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    return isPermanentError(err);
  }

  #of(type: FileType): Map<string, Buffer> {
    const files = this.#files.get(type);
    if (!files) throw new CofferError("INVALID", `Unknown file type ${JSON.stringify(type)}; this is a bug in coffer.`);
    return files;
  }

  #get(h: Handle): Buffer {
    checkHandle(h);
    const data = this.#of(h.type).get(h.name);
    if (!data) throw notFoundError(h, this.location);
    return data;
  }
}
