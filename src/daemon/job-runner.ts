/**
 * One run of a job: attempts with a growing delay between them, each under the job's timeout,
 * each holding the job's repositories only while it works (other jobs on the repository may go
 * between two attempts). The result is a `RunRecord`; the runner never throws for a failing job.
 */
import { CofferError } from "../core/errors.js";
import type { DaemonJob, JobExecutor, JobOutcome } from "./daemon-job.js";
import { errorOf, type RunRecord } from "./state.js";
import type { TimerClock } from "./timer-clock.js";

export interface RunJobOptions {
  clock: TimerClock;
  /** The daemon is stopping: no further attempt starts, the one in progress is aborted. */
  stop?: AbortSignal;
  /** Takes the job's repositories for one attempt; resolves with the release. */
  acquire?: (signal: AbortSignal) => Promise<() => void>;
  /** Told as each attempt starts (after `acquire`), so the state can record the run in flight. */
  onAttempt?: (attempt: number, startedAt: Date) => Promise<void> | void;
  log?: (message: string) => void;
}

/** Retry delays: `retryDelayMs`, doubled for each further retry, at most a day. */
export function retryDelay(job: Pick<DaemonJob, "retryDelayMs">, retry: number): number {
  return Math.min(job.retryDelayMs * 2 ** (retry - 1), 86_400_000);
}

export async function runJob(job: DaemonJob, execute: JobExecutor, opts: RunJobOptions): Promise<RunRecord> {
  const { clock, stop } = opts;
  const log = opts.log ?? (() => undefined);
  let started: Date | undefined;
  let lastError: unknown;
  let timedOut = false;
  let attempts = 0;
  const finish = (result: RunRecord["result"], outcome?: JobOutcome): RunRecord => {
    const end = clock.now();
    const from = started ?? end;
    return {
      startedAt: from.toISOString(),
      finishedAt: end.toISOString(),
      durationMs: end.getTime() - from.getTime(),
      result,
      attempts,
      ...(result !== "success" && result !== "partial" && lastError !== undefined ? { error: errorOf(lastError) } : {}),
      ...(outcome?.summary !== undefined ? { summary: outcome.summary } : {}),
      ...(outcome?.bytesAdded !== undefined ? { bytesAdded: outcome.bytesAdded } : {}),
      ...(outcome?.snapshot !== undefined ? { snapshot: outcome.snapshot } : {}),
      ...(outcome?.details !== undefined ? { details: outcome.details } : {}),
    };
  };

  for (let attempt = 1; attempt <= job.retries + 1; attempt++) {
    if (stop?.aborted) return finish("interrupted");
    const controller = new AbortController();
    const onStop = (): void => controller.abort(new CofferError("INTERRUPTED", "The daemon is stopping."));
    stop?.addEventListener("abort", onStop, { once: true });
    let release: (() => void) | undefined;
    const timer = new AbortController();
    try {
      release = await (opts.acquire?.(controller.signal) ?? Promise.resolve(undefined));
      const now = clock.now();
      started ??= now;
      attempts = attempt;
      await opts.onAttempt?.(attempt, now);
      timedOut = false;
      if (job.timeoutMs !== undefined) {
        const ms = job.timeoutMs;
        void clock.sleep(ms, timer.signal).then(() => {
          if (timer.signal.aborted) return;
          timedOut = true;
          controller.abort(new CofferError("INTERRUPTED", `The job ran longer than its timeout (${ms} ms).`));
        });
      }
      const outcome = await execute(job, { signal: controller.signal, attempt, log });
      if (timedOut) throw timeoutError(job);
      return finish(outcome.status, outcome);
    } catch (err) {
      if (stop?.aborted) {
        lastError = err;
        return finish("interrupted");
      }
      lastError = timedOut ? timeoutError(job, err) : err;
      log(`attempt ${attempt} of ${job.retries + 1} failed: ${errorOf(lastError).message}`);
    } finally {
      timer.abort();
      stop?.removeEventListener("abort", onStop);
      release?.();
    }
    if (attempt <= job.retries) {
      const wait = retryDelay(job, attempt);
      log(`trying again in ${Math.round(wait / 1000)} s`);
      await clock.sleep(wait, stop);
    }
  }
  return finish(timedOut ? "timeout" : "failure");
}

function timeoutError(job: DaemonJob, cause?: unknown): CofferError {
  const s = Math.round((job.timeoutMs ?? 0) / 1000);
  return new CofferError("INTERRUPTED", `Job ${job.name} was stopped after its timeout of ${s} s; raise timeout: in its configuration if it needs longer.`, { timeout: true, timeoutMs: job.timeoutMs }, cause !== undefined ? { cause } : undefined);
}
