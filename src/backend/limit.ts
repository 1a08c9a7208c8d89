import type { Backend, FileInfo, FileType, Handle, LoadOptions, SaveOptions } from "./backend.js";
import { DelegatingBackend } from "./delegating-backend.js";

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
export class LimitBackend extends DelegatingBackend {
  readonly #sem: Semaphore;

  constructor(inner: Backend, connections = inner.properties.connections) {
    const n = Math.max(1, Math.floor(connections));
    super(inner, { connections: n });
    this.#sem = new Semaphore(n);
  }

  override create(): Promise<void> {
    return this.#sem.run(() => this.inner.create());
  }

  override save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    return this.#sem.run(() => this.inner.save(h, data, opts));
  }

  override load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return this.#sem.run(() => this.inner.load(h, opts));
  }

  override stat(h: Handle): Promise<FileInfo> {
    return this.#sem.run(() => this.inner.stat(h));
  }

  override async *list(type: FileType): AsyncIterable<FileInfo> {
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

  override remove(h: Handle): Promise<void> {
    return this.#sem.run(() => this.inner.remove(h));
  }

  localRoot(): string | undefined {
    return this.inner.localRoot?.();
  }
}
