/**
 * A job as the scheduler sees it, and the contract of the function that does a job's work.
 * The configuration's jobs are turned into these by `jobsFromConfig`; tests write them by hand.
 */
import type { ScheduleSpec } from "./schedule.js";

export interface DaemonJob {
  name: string;
  /** The kind (`backup`, `prune`, `command`, …): the executor switches on it. */
  what: string;
  enabled: boolean;
  schedule: ScheduleSpec & { text?: string };
  /** Attempts after a failed one, within one run. */
  retries: number;
  /** Delay before the first retry; doubled for each further one. */
  retryDelayMs: number;
  /** An attempt still going after this long is stopped (its signal aborted) and counts as failed. */
  timeoutMs?: number;
  /**
   * Repositories the job reads or writes. Two jobs sharing one never run at the same time;
   * jobs with none run whenever they are due.
   */
  repositories: readonly string[];
}

/** What a successful attempt reports. */
export interface JobOutcome {
  /** `partial`: done, with some items left out (unreadable files); the run still counts as a success. */
  status: "success" | "partial";
  /** One line for logs and status: "snapshot 1a2b3c4d, 12 files new, 3.1 MiB added". */
  summary?: string;
  bytesAdded?: number;
  snapshot?: string;
  /** Anything else worth keeping in the state file (counts, ids). */
  details?: Record<string, unknown>;
}

export interface AttemptContext {
  /** Aborted on timeout and when the daemon stops: stop as soon as it is safe. */
  signal: AbortSignal;
  /** 1 for the first attempt. */
  attempt: number;
  log: (message: string) => void;
}

/** Does one attempt of a job; throws (a CofferError, ideally) when it fails. */
export type JobExecutor = (job: DaemonJob, ctx: AttemptContext) => Promise<JobOutcome>;
