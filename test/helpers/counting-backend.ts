import type { Backend, FileType, Handle, LoadOptions } from "../../src/backend/backend.js";
import { DelegatingBackend } from "../../src/backend/delegating-backend.js";

/**
 * Wraps a backend, counts the files it loads (per type, with bytes), and says it is remote
 * (`remote: true` by default), so a memory backend stands for S3 where the local cache applies.
 */
export class CountingBackend extends DelegatingBackend {
  readonly loads: Record<FileType, number> = { config: 0, key: 0, data: 0, index: 0, snapshot: 0, lock: 0 };
  bytesLoaded = 0;

  constructor(inner: Backend, remote = true) {
    super(inner, { remote });
  }

  /** Loads of index, snapshot and data files since the last reset (what the cache saves). */
  get cacheableLoads(): number {
    return this.loads.index + this.loads.snapshot + this.loads.data;
  }

  reset(): void {
    for (const t of Object.keys(this.loads) as FileType[]) this.loads[t] = 0;
    this.bytesLoaded = 0;
  }

  override async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    this.loads[h.type]++;
    const b = await this.inner.load(h, opts);
    this.bytesLoaded += b.length;
    return b;
  }
}
