import type { Backend, BackendProperties, FileInfo, FileType, Handle, LoadOptions, SaveOptions } from "./backend.js";

/** Counts free slots; waiters are served first come, first served. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.#free = slots;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((res) => this.#waiting.push(res));
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * At most `connections` requests in flight at once (default: the inner backend's
 * `properties.connections`), which `properties` then reports.
 *
 * A `list` holds a slot only while it fetches its next entry, not while the caller handles
 * one: a caller that loads each listed file inside its loop cannot deadlock the wrapper.
 */
export class LimitBackend implements Backend {
  readonly properties: BackendProperties;
  readonly #sem: Semaphore;

  constructor(
    readonly inner: Backend,
    connections = inner.properties.connections,
  ) {
    const n = Math.max(1, Math.floor(connections));
    this.properties = { ...inner.properties, connections: n };
    this.#sem = new Semaphore(n);
  }

  get location(): string {
    return this.inner.location;
  }

  create(): Promise<void> {
    return this.#sem.run(() => this.inner.create());
  }

  save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    return this.#sem.run(() => this.inner.save(h, data, opts));
  }

  load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return this.#sem.run(() => this.inner.load(h, opts));
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.#sem.run(() => this.inner.stat(h));
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const it = this.inner.list(type)[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        const r = await this.#sem.run(() => it.next());
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  }

  remove(h: Handle): Promise<void> {
    return this.#sem.run(() => this.inner.remove(h));
  }

  localRoot(): string | undefined {
    return this.inner.localRoot?.();
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
