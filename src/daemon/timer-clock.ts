/**
 * The scheduler's clock: the time, and a way to wait. Injected so that tests drive a virtual
 * clock through a week of schedules in moments.
 */
export interface TimerClock {
  now(): Date;
  /** Resolves after `ms` (at once for ms <= 0), or early when `signal` aborts; never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemTimerClock: TimerClock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      // setTimeout takes at most 2^31-1 ms; callers wake up well before that anyway.
      const timer = setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      signal?.addEventListener("abort", done, { once: true });
    }),
};
