// A virtual clock for scheduler tests: time moves only when everything that can run has run
// and all are waiting on the clock; it then jumps to the earliest wake-up.
import type { TimerClock } from "../../src/daemon/timer-clock.js";

interface Sleeper {
  at: number;
  resolve: () => void;
}

export class VirtualClock implements TimerClock {
  #t: number;
  #sleepers: Sleeper[] = [];
  /** Jumps made: a week of hourly jobs should need a few hundred, not millions. */
  steps = 0;

  constructor(start: Date) {
    this.#t = start.getTime();
  }

  now(): Date {
    return new Date(this.#t);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const s: Sleeper = {
        at: this.#t + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((x) => x !== s);
        s.resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(s);
    });
  }

  /** Lets everything that can run, run; then moves to each wake-up in turn, up to `end`. */
  async runUntil(end: Date): Promise<void> {
    for (;;) {
      await settle();
      const next = Math.min(...this.#sleepers.map((s) => s.at));
      if (!Number.isFinite(next) || next > end.getTime()) {
        this.#t = Math.max(this.#t, end.getTime());
        await settle();
        return;
      }
      this.#t = Math.max(this.#t, next);
      this.steps++;
      const wake = this.#sleepers.filter((s) => s.at <= this.#t);
      this.#sleepers = this.#sleepers.filter((s) => s.at > this.#t);
      for (const s of wake) s.resolve();
    }
  }
}

/** Waits until promise callbacks and immediates queued now (and those they queue) have run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}
