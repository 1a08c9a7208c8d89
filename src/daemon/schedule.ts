/**
 * When a job runs next: pure, the clock is a parameter. Three shapes of schedule (the
 * configuration's `Schedule` is one of these):
 *
 * - `every D` alone: due once the last success is D old (a calendar step in the zone: `1d` is
 *   the same wall-clock time the next day across a DST change). After downtime the job is due
 *   at once, and the run resets the count: it catches up once, never once per missed period.
 * - cron alone (`at 02:00` is `0 2 * * *`): at each matching time in the zone. A slot missed
 *   while the daemon was down (after the last run, or after the job was first seen) makes the
 *   job due at once, once.
 * - both: at the cron times, only when the last success is at least D old (the seeds' "at 01:00,
 *   if 7+ days since the last backup"). D is measured from the slot the last success ran for,
 *   so a run that started a few seconds after 01:00 still counts as "01:00" a week later.
 *
 * A failed run (all its retries spent) is tried again at the next cron slot, or for `every`
 * alone after `afterFailureMs` (default one hour) or D, whichever is sooner.
 */
import { Cron } from "croner";
import { CofferError } from "../core/errors.js";
import { CalendarBuckets, type Duration } from "../retention/index.js";

/** What a schedule says; the configuration's `Schedule` has this shape. */
export interface ScheduleSpec {
  everyDuration?: Duration;
  /** Cron expressions (5 fields, or 6 with seconds); `at HH:MM` is `M H * * *`. */
  cron: readonly string[];
  /** IANA zone of the cron times and of `every`'s calendar steps; default the machine's. */
  timeZone?: string;
}

/** What the scheduler remembers of a job's runs. Times are when runs started. */
export interface RunHistory {
  /** The newest successful run. */
  lastSuccess?: Date;
  /** The newest finished run, whatever its result. */
  lastRun?: Date;
  /** Whether that run failed (after its retries). */
  lastRunFailed?: boolean;
  /** When the daemon first saw the job: cron slots missed since then count. Default: now. */
  since?: Date;
}

export interface NextRunOptions {
  /** Zone for this computation, over the schedule's own. */
  timeZone?: string;
  /** `every` alone: how soon a failed run is tried again (capped at D). Default one hour. */
  afterFailureMs?: number;
}

export const DEFAULT_AFTER_FAILURE_MS = 3_600_000;

/**
 * When the job is due: a time at or before `now` means "run now". Undefined: never again (a
 * cron expression with no future match, or an empty schedule).
 */
export function nextRun(schedule: ScheduleSpec, history: RunHistory, now: Date, opts: NextRunOptions = {}): Date | undefined {
  const tz = opts.timeZone ?? schedule.timeZone;
  const every = schedule.everyDuration;
  const crons = schedule.cron.map((c) => cronOf(c, tz));
  if (crons.length === 0) {
    if (every === undefined) return undefined;
    return everyDue(every, history, now, tz, opts.afterFailureMs ?? DEFAULT_AFTER_FAILURE_MS);
  }
  const ref = history.lastRun ?? history.since ?? now;
  if (every === undefined || history.lastSuccess === undefined) return earliest(crons.map((c) => after(c, ref)));
  // The first slot after the last run that is at least D after the slot of the last success.
  const anchor = latestSlotAtOrBefore(crons, history.lastSuccess) ?? history.lastSuccess;
  const eligible = calendar(tz).add(anchor, every);
  const from = new Date(Math.max(ref.getTime(), eligible.getTime() - 1));
  return earliest(crons.map((c) => after(c, from)));
}

/** True when `nextRun` is at or before `now`. */
export function isDue(schedule: ScheduleSpec, history: RunHistory, now: Date, opts: NextRunOptions = {}): boolean {
  const t = nextRun(schedule, history, now, opts);
  return t !== undefined && t.getTime() <= now.getTime();
}

/**
 * About how long apart successful runs are expected to be, measured around `now` (calendar
 * steps vary): D for `every`, the gap between the next two slots for cron, and for both, D
 * plus one cron gap (the run waits for a slot). Health compares a job's age against this.
 */
export function expectedInterval(schedule: ScheduleSpec, now: Date, opts: Pick<NextRunOptions, "timeZone"> = {}): number | undefined {
  const tz = opts.timeZone ?? schedule.timeZone;
  const crons = schedule.cron.map((c) => cronOf(c, tz));
  const every = schedule.everyDuration;
  const everyMs = every !== undefined ? calendar(tz).add(now, every).getTime() - now.getTime() : undefined;
  let cronGap: number | undefined;
  if (crons.length > 0) {
    const next = earliest(crons.map((c) => after(c, now)));
    const then = next !== undefined ? earliest(crons.map((c) => after(c, next))) : undefined;
    if (next !== undefined && then !== undefined) cronGap = then.getTime() - next.getTime();
  }
  if (everyMs !== undefined) return everyMs + (crons.length > 0 ? (cronGap ?? 0) : 0);
  return cronGap;
}

/** Checks a cron expression as the scheduler reads it; throws INVALID with a hint. */
export function checkCronExpression(expr: string, timeZone?: string): void {
  cronOf(expr, timeZone);
}

function everyDue(every: Duration, h: RunHistory, now: Date, tz: string | undefined, afterFailureMs: number): Date {
  const cal = calendar(tz);
  const success = h.lastSuccess !== undefined ? cal.add(h.lastSuccess, every) : (h.since ?? now);
  const failedSince = h.lastRunFailed === true && h.lastRun !== undefined && (h.lastSuccess === undefined || h.lastRun >= h.lastSuccess);
  if (!failedSince || h.lastRun === undefined) return success;
  const retry = Math.min(cal.add(h.lastRun, every).getTime(), h.lastRun.getTime() + afterFailureMs);
  return new Date(Math.max(success.getTime(), retry));
}

const calendars = new Map<string, CalendarBuckets>();

function calendar(tz: string | undefined): CalendarBuckets {
  const key = tz ?? "";
  let c = calendars.get(key);
  if (c === undefined) {
    c = tz === undefined ? new CalendarBuckets() : new CalendarBuckets(tz);
    calendars.set(key, c);
  }
  return c;
}

function cronOf(expr: string, tz: string | undefined): Cron {
  try {
    return new Cron(expr, { paused: true, ...(tz !== undefined ? { timezone: tz } : {}) });
  } catch (err) {
    throw new CofferError("INVALID", `"${expr}" is not a cron expression the scheduler can use (${(err as Error).message}); write minute hour day month weekday, e.g. "0 2 * * *".`, { cron: expr });
  }
}

/** The first match strictly after `t`. */
function after(c: Cron, t: Date): Date | undefined {
  return c.nextRun(t) ?? undefined;
}

/** The newest slot of any expression at or before `t`. */
function latestSlotAtOrBefore(crons: Cron[], t: Date): Date | undefined {
  const ref = new Date(t.getTime() + 1);
  let best: Date | undefined;
  for (const c of crons) {
    const p = c.previousRuns(1, ref)[0];
    if (p !== undefined && (best === undefined || p > best)) best = p;
  }
  return best;
}

function earliest(ts: (Date | undefined)[]): Date | undefined {
  let best: Date | undefined;
  for (const t of ts) if (t !== undefined && (best === undefined || t < best)) best = t;
  return best;
}
