/** Told when a Gather closed with `closeTo` has all its values, or has failed. */
export interface GatherListener<T> {
  gathered(values: T[]): void;
  failed(err: unknown): void;
}

/**
 * Values in order, some known now and some later: what Promise.all does for a directory's
 * entries, without a promise and a closure per entry (a backup's walk gathers every entry of
 * every directory). Whoever produces a later value calls `set` or `fail`; `close` (or
 * `closeTo`) after the last `push` or `later` gives the values, now or once the last is set.
 */
export class Gather<T> {
  readonly values: T[] = [];
  #pending = 0;
  #closed = false;
  #failed = false;
  #error: unknown;
  #listener: GatherListener<T> | undefined;

  push(value: T): void {
    this.values.push(value);
  }

  /** Reserves the next place for a value set later; returns its index. */
  later(placeholder: T): number {
    this.#pending++;
    return this.values.push(placeholder) - 1;
  }

  set(i: number, value: T): void {
    this.values[i] = value;
    if (--this.#pending === 0 && this.#listener && !this.#failed) this.#listener.gathered(this.values);
  }

  /** The first failure rejects the gathered values; later ones are dropped, as by Promise.all. */
  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#listener?.failed(err);
  }

  /** The gathered values now, or a promise of them: no more values are added. */
  close(): T[] | Promise<T[]> {
    this.#close();
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#pending === 0) return this.values;
    return new Promise<T[]>((resolve, reject) => {
      this.#listener = { gathered: resolve, failed: reject };
    });
  }

  /**
   * The gathered values now, or undefined: `listener` is told once they are all set (or the
   * first failure, at once if there was one already). No more values are added.
   */
  closeTo(listener: GatherListener<T>): T[] | undefined {
    this.#close();
    if (this.#failed) {
      listener.failed(this.#error);
      return undefined;
    }
    if (this.#pending === 0) return this.values;
    this.#listener = listener;
    return undefined;
  }

  #close(): void {
    if (this.#closed) throw new Error("Gather closed twice");
    this.#closed = true;
  }

  /** `fail` as a function, one per Gather (for `then`). */
  get onError(): (err: unknown) => void {
    return (this.#onError ??= (err: unknown) => this.fail(err));
  }
  #onError: ((err: unknown) => void) | undefined;
}
