/**
 * Notifications: a job started failing, a failing job recovered, and (only when asked) a job
 * succeeded. Each event goes to every webhook (a JSON POST, retried with a growing delay) and
 * every command (run with the event as JSON on its standard input). A notification that cannot
 * be delivered is logged; it never fails the job or stops the daemon.
 */
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import type { RunRecord } from "./state.js";
import { systemTimerClock, type TimerClock } from "./timer-clock.js";

export type JobEventKind = "failure" | "recovery" | "success";

/** The JSON a webhook receives and a command reads on stdin. */
export interface JobEvent {
  event: JobEventKind;
  job: string;
  what: string;
  host: string;
  /** ISO time of the event. */
  time: string;
  /** One line for people (also sent as `text`, which Slack-style webhooks show). */
  message: string;
  text: string;
  run: RunRecord;
  consecutiveFailures: number;
  /** For a recovery: when the job last succeeded before it started failing. */
  previousSuccess?: string;
  config?: string;
}

/** Where events go; the configuration's `notify` section has this shape. */
export interface NotifyTargets {
  webhooks: readonly { url: string; headers?: Readonly<Record<string, string>>; timeoutMs?: number; retries?: number }[];
  commands: readonly (string | readonly string[])[];
  /** Also send an event for every success. */
  onSuccess: boolean;
}

export interface NotifierOptions {
  clock?: TimerClock;
  fetch?: typeof fetch;
  log?: (level: "info" | "warn", message: string) => void;
  /** A command still running after this long is killed. Default 60 s. */
  commandTimeoutMs?: number;
  /** First delay between webhook attempts; doubles. Default 2 s. */
  webhookRetryDelayMs?: number;
}

export type Notify = (event: JobEvent) => Promise<void>;

/** Sends each event to every target; resolves when all deliveries are done (or given up). */
export function createNotifier(targets: NotifyTargets, opts: NotifierOptions = {}): Notify {
  const clock = opts.clock ?? systemTimerClock;
  const doFetch = opts.fetch ?? fetch;
  const log = opts.log ?? (() => undefined);
  return async (event) => {
    if (event.event === "success" && !targets.onSuccess) return;
    await Promise.all([
      ...targets.webhooks.map((w) =>
        postWebhook(w, event, doFetch, clock, opts.webhookRetryDelayMs ?? 2000).then(
          () => log("info", `notified ${redactUrl(w.url)} of the ${event.event} of job ${event.job}`),
          (err: Error) => log("warn", `could not notify ${redactUrl(w.url)} of the ${event.event} of job ${event.job}: ${err.message}`),
        ),
      ),
      ...targets.commands.map((c) =>
        runNotifyCommand(c, event, opts.commandTimeoutMs ?? 60_000).then(
          () => log("info", `notify command ${describeCommand(c)} told of the ${event.event} of job ${event.job}`),
          (err: Error) => log("warn", `notify command ${describeCommand(c)} failed for the ${event.event} of job ${event.job}: ${err.message}`),
        ),
      ),
    ]);
  };
}

/** Builds the event for a finished run. */
export function jobEvent(kind: JobEventKind, job: { name: string; what: string }, run: RunRecord, extra: { consecutiveFailures: number; previousSuccess?: string; config?: string; time: Date }): JobEvent {
  const message = eventMessage(kind, job, run, extra.consecutiveFailures);
  return {
    event: kind,
    job: job.name,
    what: job.what,
    host: hostname(),
    time: extra.time.toISOString(),
    message,
    text: message,
    run,
    consecutiveFailures: extra.consecutiveFailures,
    ...(extra.previousSuccess !== undefined ? { previousSuccess: extra.previousSuccess } : {}),
    ...(extra.config !== undefined ? { config: extra.config } : {}),
  };
}

function eventMessage(kind: JobEventKind, job: { name: string; what: string }, run: RunRecord, failures: number): string {
  const host = hostname();
  if (kind === "failure") {
    const how = run.result === "timeout" ? "timed out" : "failed";
    return `coffer on ${host}: job ${job.name} (${job.what}) ${how} after ${run.attempts} attempt${run.attempts === 1 ? "" : "s"}: ${run.error?.message ?? "no error given"}`;
  }
  if (kind === "recovery") return `coffer on ${host}: job ${job.name} (${job.what}) works again after ${failures} failed run${failures === 1 ? "" : "s"}${run.summary ? `: ${run.summary}` : ""}`;
  return `coffer on ${host}: job ${job.name} (${job.what}) succeeded${run.summary ? `: ${run.summary}` : ""}`;
}

async function postWebhook(w: NotifyTargets["webhooks"][number], event: JobEvent, doFetch: typeof fetch, clock: TimerClock, firstDelay: number): Promise<void> {
  const attempts = 1 + (w.retries ?? 3);
  let last: Error = new Error("not sent");
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await doFetch(w.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "coffer", ...(w.headers ?? {}) },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(w.timeoutMs ?? 10_000),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return;
      last = new Error(`HTTP ${res.status}`);
      // A client error will not go away by sending the same thing again (408 and 429 may).
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    if (i < attempts) await clock.sleep(firstDelay * 2 ** (i - 1));
  }
  throw new Error(`${last.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
}

/** A string runs through `/bin/sh -c`; a list runs as it is. The event is on stdin; COFFER_EVENT and COFFER_JOB in the environment. */
function runNotifyCommand(command: string | readonly string[], event: JobEvent, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const [file, args] = typeof command === "string" ? ["/bin/sh", ["-c", command]] : [command[0] ?? "", command.slice(1)];
    const child = spawn(file, args, {
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, COFFER_EVENT: event.event, COFFER_JOB: event.job, COFFER_MESSAGE: event.message },
      detached: true,
    });
    // Past the timeout the whole process group goes (a shell's children too).
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    timer.unref();
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => {
      if (stderr.length < 2000) stderr += c.toString();
    });
    child.stdin?.on("error", () => undefined); // a command that does not read its input is fine
    child.stdin?.end(JSON.stringify(event) + "\n");
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${signal ? `killed by ${signal}` : `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim().split("\n")[0]}` : ""}`));
    });
  });
}

function describeCommand(c: string | readonly string[]): string {
  const text = typeof c === "string" ? c : c.join(" ");
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A webhook URL often holds a token: show the host only. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return "(webhook)";
  }
}
