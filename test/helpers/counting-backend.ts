import type { Backend, BackendProperties, FileInfo, FileType, Handle, LoadOptions } from "../../src/backend/backend.js";

/**
 * Wraps a backend, counts the files it loads (per type, with bytes), and says it is remote
 * (`remote: true` by default), so a memory backend stands for S3 where the local cache applies.
 */
export class CountingBackend implements Backend {
  readonly loads: Record<FileType, number> = { config: 0, key: 0, data: 0, index: 0, snapshot: 0, lock: 0 };
  bytesLoaded = 0;
  readonly properties: BackendProperties;

  constructor(
    readonly inner: Backend,
    remote = true,
  ) {
    this.properties = { ...inner.properties, remote };
  }

  get location(): string {
    return this.inner.location;
  }

  /** Loads of index, snapshot and data files since the last reset (what the cache saves). */
  get cacheableLoads(): number {
    return this.loads.index + this.loads.snapshot + this.loads.data;
  }

  reset(): void {
    for (const t of Object.keys(this.loads) as FileType[]) this.loads[t] = 0;
    this.bytesLoaded = 0;
  }

  create(): Promise<void> {
    return this.inner.create();
  }
  save(h: Handle, data: Uint8Array): Promise<void> {
    return this.inner.save(h, data);
  }
  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    this.loads[h.type]++;
    const b = await this.inner.load(h, opts);
    this.bytesLoaded += b.length;
    return b;
  }
  stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }
  list(type: FileType): AsyncIterable<FileInfo> {
    return this.inner.list(type);
  }
  remove(h: Handle): Promise<void> {
    return this.inner.remove(h);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  isNotFound(err: unknown): boolean {
    return this.inner.isNotFound(err);
  }
  isPermanent(err: unknown): boolean {
    return this.inner.isPermanent(err);
  }
}
