/**
 * Values in order, some known now and some later: what Promise.all does for a directory's
 * entries, without a promise and a closure per entry (a backup's walk gathers every entry of
 * every directory). Whoever produces a later value calls `set` or `fail`; `close` after the
 * last `push` or `later` gives the values, now or once the last is set.
 */
export class Gather<T> {
  readonly values: T[] = [];
  #pending = 0;
  #closed = false;
  #failed = false;
  #error: unknown;
  #resolve: ((values: T[]) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;

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
    if (--this.#pending === 0 && this.#resolve && !this.#failed) this.#resolve(this.values);
  }

  /** The first failure rejects the gathered values; later ones are dropped, as by Promise.all. */
  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#reject?.(err);
  }

  /** Settles the gathered values once set, or at once: no more values are added. */
  close(): T[] | Promise<T[]> {
    if (this.#closed) throw new Error("Gather closed twice");
    this.#closed = true;
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#pending === 0) return this.values;
    return new Promise<T[]>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** `fail` as a function, one per Gather (for `then`). */
  get onError(): (err: unknown) => void {
    return (this.#onError ??= (err: unknown) => this.fail(err));
  }
  #onError: ((err: unknown) => void) | undefined;

  /** Gathers a promised value at the next place. */
  wait(p: Promise<T>, placeholder: T): void {
    const i = this.later(placeholder);
    p.then((v) => this.set(i, v), this.onError);
  }
}
