/**
 * The scheduler: starts each enabled job when its schedule says it is due, runs it (with its
 * retries and timeout) while holding its repositories, records the run in the state, and sends
 * notifications when a job starts failing and when it recovers. Time comes from a `TimerClock`
 * and the work from a `JobExecutor`, so tests drive it with a virtual clock and fake jobs.
 *
 * Order of effects for one run: the run in flight is saved before the work starts; the result
 * is saved when it ends. A crash in between leaves the in-flight mark, and the next start runs
 * the job again. A stop (SIGTERM) aborts the work and records nothing: the run is not counted
 * and happens again when the daemon is back.
 */
import type { DaemonJob, JobExecutor } from "./daemon-job.js";
import { runJob } from "./job-runner.js";
import { type DaemonLog, silentLog } from "./log.js";
import { jobEvent, type JobEventKind, type Notify } from "./notify.js";
import { ResourceQueue } from "./resource-queue.js";
import { nextRun, type RunHistory } from "./schedule.js";
import type { DaemonState, JobState, RunRecord, StateStore } from "./state.js";
import { systemTimerClock, type TimerClock } from "./timer-clock.js";

export interface SchedulerOptions {
  jobs: readonly DaemonJob[];
  execute: JobExecutor;
  store: StateStore;
  clock?: TimerClock;
  notify?: Notify;
  log?: DaemonLog;
  /** The configuration file, recorded in the state and in events. */
  config?: string;
  /** `every` alone: how soon a failed run is tried again. Default one hour. */
  afterFailureMs?: number;
  /** The longest the loop sleeps before looking again (the wall clock may jump). Default 60 s. */
  maxSleepMs?: number;
  /** On stop, how long a job in progress may go on before it is aborted. Default 0. */
  stopGraceMs?: number;
  /** After each finished run (not an interrupted one): refresh facts about its repositories. */
  onRunFinished?: (job: DaemonJob, run: RunRecord) => Promise<void> | void;
}

export interface ActiveRun {
  job: string;
  /** Waiting for a repository another job holds. */
  queued: boolean;
  attempt: number;
  startedAt?: string;
}

const FAILED: ReadonlySet<RunRecord["result"]> = new Set(["failure", "timeout"]);

export class Scheduler {
  readonly jobs: readonly DaemonJob[];
  readonly #opts: SchedulerOptions;
  readonly #clock: TimerClock;
  readonly #log: DaemonLog;
  readonly #state: DaemonState;
  readonly #queue = new ResourceQueue();
  readonly #active = new Map<string, { promise: Promise<void>; run: ActiveRun }>();
  #saving: Promise<void> = Promise.resolve();
  #wake = new AbortController();
  /** Next run by job: it depends only on the job's history (first seen, last run, last success), so it changes only when a run ends. */
  readonly #due = new Map<string, Date | undefined>();

  private constructor(opts: SchedulerOptions, state: DaemonState) {
    this.#opts = opts;
    this.jobs = opts.jobs;
    this.#clock = opts.clock ?? systemTimerClock;
    this.#log = opts.log ?? silentLog;
    this.#state = state;
  }

  /** Loads the state, takes note of runs a crash interrupted and of new jobs, and saves. */
  static async open(opts: SchedulerOptions): Promise<Scheduler> {
    const state = await opts.store.load();
    const s = new Scheduler(opts, state);
    s.#recover();
    await s.save();
    return s;
  }

  /** The live state (read only: change it through `update`). */
  get state(): Readonly<DaemonState> {
    return this.#state;
  }

  /** Jobs queued or running now. */
  active(): ActiveRun[] {
    return [...this.#active.values()].map((a) => ({ ...a.run }));
  }

  /** Changes the state and saves it. */
  async update(fn: (state: DaemonState) => void): Promise<void> {
    fn(this.#state);
    await this.save();
  }

  /** Saves the state now (saves are queued one after the other; a failed save is logged). */
  save(): Promise<void> {
    this.#saving = this.#saving.then(
      () => this.#opts.store.save(this.#state).catch((err: Error) => this.#log.error(`could not save the daemon state: ${err.message}`)),
    );
    return this.#saving;
  }

  /** Runs due jobs until `signal` aborts; then stops the jobs in progress and returns once they have ended and the state is saved. */
  async run(signal: AbortSignal): Promise<void> {
    const jobStop = new AbortController();
    const onStop = (): void => {
      this.#wake.abort();
      const grace = this.#opts.stopGraceMs ?? 0;
      if (grace <= 0 || this.#active.size === 0) jobStop.abort();
      else {
        this.#log.info(`stopping: jobs in progress have ${Math.round(grace / 1000)} s to finish`);
        void this.#clock.sleep(grace, jobStop.signal).then(() => jobStop.abort());
      }
    };
    signal.addEventListener("abort", onStop, { once: true });
    try {
      while (!signal.aborted) {
        const now = this.#clock.now();
        let wait = this.#opts.maxSleepMs ?? 60_000;
        for (const job of this.jobs) {
          const js = this.#jobState(job.name, now);
          if (!job.enabled) {
            js.nextRun = null;
            continue;
          }
          if (this.#active.has(job.name)) continue;
          if (!this.#due.has(job.name)) this.#due.set(job.name, nextRun(job.schedule, history(js), now, this.#afterFailure()));
          const due = this.#due.get(job.name);
          js.nextRun = due?.toISOString() ?? null;
          if (due === undefined) continue;
          if (due.getTime() <= now.getTime()) this.#launch(job, jobStop.signal);
          else wait = Math.min(wait, due.getTime() - now.getTime());
        }
        // A job that ends (or a stop) aborts `wake`: look again at once.
        const wake = this.#wake;
        await this.#clock.sleep(wait, wake.signal);
        if (wake.signal.aborted && !signal.aborted) this.#wake = new AbortController();
      }
    } finally {
      signal.removeEventListener("abort", onStop);
      await Promise.all([...this.#active.values()].map((a) => a.promise));
      jobStop.abort();
      await this.save();
    }
  }

  #afterFailure(): { afterFailureMs?: number } {
    return this.#opts.afterFailureMs !== undefined ? { afterFailureMs: this.#opts.afterFailureMs } : {};
  }

  #jobState(name: string, now: Date): JobState {
    let js = this.#state.jobs[name];
    if (js === undefined) {
      js = { since: now.toISOString(), consecutiveFailures: 0, runs: 0, failures: 0 };
      this.#state.jobs[name] = js;
    }
    return js;
  }

  #recover(): void {
    const now = this.#clock.now();
    if (this.#opts.config !== undefined) this.#state.config = this.#opts.config;
    for (const job of this.jobs) {
      const js = this.#jobState(job.name, now);
      if (js.inFlight !== undefined) {
        this.#log.warn(`the run of job ${job.name} that started at ${js.inFlight.startedAt} did not finish (the daemon stopped or crashed); it runs again`);
        delete js.inFlight;
      }
    }
  }

  #launch(job: DaemonJob, stop: AbortSignal): void {
    const run: ActiveRun = { job: job.name, queued: true, attempt: 0 };
    const log = (m: string): void => this.#log.info(`job ${job.name}: ${m}`);
    const keys = job.repositories.map((r) => `repository:${r}`);
    if (keys.length > 0 && this.#queue.busy.some((k) => keys.includes(k))) log(`waiting for ${job.repositories.join(", ")}, which another job is using`);
    const promise = runJob(job, this.#opts.execute, {
      clock: this.#clock,
      stop,
      ...(keys.length > 0 ? { acquire: (signal: AbortSignal) => this.#queue.acquire(keys, signal) } : {}),
      onAttempt: async (attempt, startedAt) => {
        run.queued = false;
        run.attempt = attempt;
        run.startedAt ??= startedAt.toISOString();
        log(attempt === 1 ? `started (${job.what})` : `attempt ${attempt} of ${job.retries + 1}`);
        const js = this.#jobState(job.name, startedAt);
        js.inFlight = { startedAt: run.startedAt, attempt, pid: process.pid };
        await this.save();
      },
      log,
    })
      .then((record) => this.#finished(job, record))
      .catch((err: Error) => this.#log.error(`job ${job.name}: ${err.message}`))
      .finally(() => {
        this.#active.delete(job.name);
        this.#wake.abort();
      });
    this.#active.set(job.name, { promise, run });
  }

  async #finished(job: DaemonJob, record: RunRecord): Promise<void> {
    const js = this.#jobState(job.name, this.#clock.now());
    delete js.inFlight;
    this.#due.delete(job.name);
    if (record.result === "interrupted") {
      this.#log.info(`job ${job.name}: stopped before it finished; it runs again when the daemon is back`);
      await this.save();
      return;
    }
    const failed = FAILED.has(record.result);
    const before = js.consecutiveFailures;
    const previousSuccess = js.lastSuccess?.startedAt;
    js.lastRun = record;
    js.runs++;
    if (failed) {
      js.lastFailure = record;
      js.failures++;
      js.consecutiveFailures++;
      this.#log.error(`job ${job.name}: ${record.result === "timeout" ? "timed out" : "failed"} after ${record.attempts} attempt${record.attempts === 1 ? "" : "s"}: ${record.error?.message ?? "?"}`);
    } else {
      js.lastSuccess = record;
      js.consecutiveFailures = 0;
      this.#log.info(`job ${job.name}: ${record.result === "partial" ? "done, with some items left out" : "done"} in ${Math.round(record.durationMs / 1000)} s${record.summary ? `: ${record.summary}` : ""}`);
    }
    const due = job.enabled ? nextRun(job.schedule, history(js), this.#clock.now(), this.#afterFailure()) : undefined;
    js.nextRun = due?.toISOString() ?? null;
    await this.save();
    const kind: JobEventKind | undefined = failed ? (before === 0 ? "failure" : undefined) : before > 0 ? "recovery" : "success";
    if (kind !== undefined && this.#opts.notify !== undefined) {
      await this.#opts.notify(
        jobEvent(kind, job, record, {
          consecutiveFailures: failed ? js.consecutiveFailures : before,
          ...(kind === "recovery" && previousSuccess !== undefined ? { previousSuccess } : {}),
          ...(this.#opts.config !== undefined ? { config: this.#opts.config } : {}),
          time: this.#clock.now(),
        }),
      );
    }
    await this.#opts.onRunFinished?.(job, record);
  }
}

/** What `nextRun` needs from a job's state. */
export function history(js: JobState): RunHistory {
  return {
    since: new Date(js.since),
    ...(js.lastSuccess ? { lastSuccess: new Date(js.lastSuccess.startedAt) } : {}),
    ...(js.lastRun ? { lastRun: new Date(js.lastRun.startedAt), lastRunFailed: FAILED.has(js.lastRun.result) } : {}),
  };
}
