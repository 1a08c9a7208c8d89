/**
 * Keeps jobs on one repository apart: a job takes all its keys (repository names) at once, in
 * the order jobs asked. A waiting job reserves its keys, so a later job that needs any of them
 * waits behind it (no starvation) while jobs on other repositories go ahead.
 */
interface Waiter {
  keys: string[];
  grant: () => void;
}

export class ResourceQueue {
  readonly #held = new Set<string>();
  #waiting: Waiter[] = [];

  /** Resolves with the release function once every key is free; rejects if `signal` aborts first. */
  acquire(keys: readonly string[], signal?: AbortSignal): Promise<() => void> {
    const unique = [...new Set(keys)];
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry: Waiter = {
        keys: unique,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          for (const k of unique) this.#held.add(k);
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            for (const k of unique) this.#held.delete(k);
            this.#pump();
          });
        },
      };
      const onAbort = (): void => {
        this.#waiting = this.#waiting.filter((w) => w !== entry);
        this.#pump();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(entry);
      this.#pump();
    });
  }

  /** Keys held now. */
  get busy(): string[] {
    return [...this.#held];
  }

  #pump(): void {
    const reserved = new Set<string>();
    const still: Waiter[] = [];
    for (const w of this.#waiting) {
      if (w.keys.every((k) => !this.#held.has(k) && !reserved.has(k))) w.grant();
      else {
        for (const k of w.keys) reserved.add(k);
        still.push(w);
      }
    }
    this.#waiting = still;
  }
}
