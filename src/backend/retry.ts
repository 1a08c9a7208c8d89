import type { Backend, FileInfo, FileType, Handle, LoadOptions, SaveOptions } from "./backend.js";
import { DelegatingBackend } from "./delegating-backend.js";

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  /** The backend method: create, save, load, stat, list, remove. */
  op: string;
  handle?: Handle;
  /** What `list` was listing. */
  type?: FileType;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Attempts in all; the next one is `attempt + 1`. */
  attempts: number;
  /** How long the wrapper waits before the next attempt. */
  delayMs: number;
  error: unknown;
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 10); 1 turns retrying off. */
  attempts?: number;
  /** The wait after the first failure, before jitter (default 500 ms). */
  initialDelayMs?: number;
  /** No wait is longer than this (default 30 s). */
  maxDelayMs?: number;
  /** Each wait is this many times the previous one, before jitter (default 2). */
  factor?: number;
  /** Called before each wait; for logs and progress. Whatever it throws is ignored. */
  onRetry?: (info: RetryInfo) => void;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1); injected in tests (default Math.random). */
  random?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/**
 * Retries a failed request with exponential backoff and jitter, unless the inner backend calls
 * the error permanent (`isPermanent`): a missing file or a full disk is reported at once.
 * A retried `list` starts over and skips the names it already yielded.
 *
 * Retrying is safe because every request is idempotent: a repeated save writes the same bytes
 * under the same name again. It is stacked outside `LimitBackend`, so a wait holds no slot.
 */
export class RetryBackend extends DelegatingBackend {
  readonly #attempts: number;
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(inner: Backend, opts: RetryOptions = {}) {
    super(inner);
    this.#attempts = Math.max(1, Math.floor(opts.attempts ?? 10));
    this.#initial = opts.initialDelayMs ?? 500;
    this.#max = opts.maxDelayMs ?? 30_000;
    this.#factor = opts.factor ?? 2;
    this.#onRetry = opts.onRetry;
    this.#sleep = opts.sleep ?? sleep;
    this.#random = opts.random ?? Math.random;
  }

  override create(): Promise<void> {
    return this.#retry("create", undefined, () => this.inner.create());
  }

  override save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    return this.#retry("save", h, () => this.inner.save(h, data, opts));
  }

  override load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return this.#retry("load", h, () => this.inner.load(h, opts));
  }

  override stat(h: Handle): Promise<FileInfo> {
    return this.#retry("stat", h, () => this.inner.stat(h));
  }

  override async *list(type: FileType): AsyncIterable<FileInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const it = this.inner.list(type)[Symbol.asyncIterator]();
      let failed = false;
      try {
        for (;;) {
          let r: IteratorResult<FileInfo>;
          try {
            r = await it.next();
          } catch (err) {
            await this.#beforeRetry("list", { type }, attempt, err);
            failed = true;
            break;
          }
          if (r.done) return;
          if (seen.has(r.value.name)) continue;
          seen.add(r.value.name);
          yield r.value;
        }
      } finally {
        // The consumer stopped early: let the inner listing release what it holds.
        if (!failed) await it.return?.();
      }
    }
  }

  override remove(h: Handle): Promise<void> {
    return this.#retry("remove", h, () => this.inner.remove(h));
  }

  localRoot(): string | undefined {
    return this.inner.localRoot?.();
  }

  /** The wait after failed attempt `attempt` (from 1): exponential, jittered to 50–150 %, capped. */
  delayFor(attempt: number): number {
    const base = Math.min(this.#max, this.#initial * this.#factor ** (attempt - 1));
    return Math.round(Math.min(this.#max, base * (0.5 + this.#random())));
  }

  async #retry<T>(op: string, handle: Handle | undefined, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        await this.#beforeRetry(op, handle ? { handle } : {}, attempt, err);
      }
    }
  }

  /** Rethrows `err` when it is permanent or attempts are used up; otherwise reports and waits. */
  async #beforeRetry(op: string, what: { handle?: Handle; type?: FileType }, attempt: number, err: unknown): Promise<void> {
    if (attempt >= this.#attempts || this.inner.isPermanent(err)) throw err;
    const delayMs = this.delayFor(attempt);
    try {
      this.#onRetry?.({ op, ...what, attempt, attempts: this.#attempts, delayMs, error: err });
    } catch {
      // A logging callback must not turn a recoverable failure into a fatal one.
    }
    await this.#sleep(delayMs);
  }
}
