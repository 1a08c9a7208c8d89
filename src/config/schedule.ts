/**
 * A job's schedule from its `every`, `at`, `cron` and `time-zone` settings. Pure: no clock.
 * Working out the next run is the scheduler's (it has the last success and the clock); `every`
 * steps are calendar steps in the schedule's zone (`new CalendarBuckets(timeZone).add(t, d)`),
 * cron times come from croner (`new Cron(expr, { timezone })`).
 */
import { parseDuration } from "../retention/index.js";
import type { JobDocument } from "./schema-jobs.js";
import type { Schedule } from "./types.js";
import { checkCron, checkDuration, checkTimeOfDay, parseTimeOfDay } from "./values.js";

type Report = (key: string | undefined, message: string, hint?: string) => void;

export function buildSchedule(d: Pick<JobDocument, "every" | "at" | "cron" | "time-zone">, report: Report): Schedule {
  const at = d.at === undefined ? [] : Array.isArray(d.at) ? d.at : [d.at];
  if (d.every === undefined && at.length === 0 && d.cron === undefined) {
    report(undefined, "this job has no schedule", 'add every: 7d (after the last success), at: "02:00" (daily) or cron: "0 2 * * 1" (with time-zone)');
  }
  if (at.length > 0 && d.cron !== undefined) report("cron", "give at or cron, not both", 'a time of day is the cron expression "M H * * *"');
  const cron: string[] = [];
  if (d.cron !== undefined && checkCron(d.cron) === undefined) cron.push(d.cron.trim());
  for (const t of at) {
    const tod = checkTimeOfDay(t) === undefined ? parseTimeOfDay(t) : undefined;
    if (tod) cron.push(`${tod.minute} ${tod.hour} * * *`);
  }
  const every = d.every !== undefined && checkDuration(d.every) === undefined ? d.every : undefined;
  const tz = d["time-zone"];
  return {
    ...(every !== undefined ? { every, everyDuration: parseDuration(every) } : {}),
    cron,
    ...(tz !== undefined ? { timeZone: tz } : {}),
    text: describeSchedule(every, at, d.cron, tz),
  };
}

/** "every 7d at 01:00 (Europe/Berlin)", "cron 0 2 * * 1", "at 02:00". */
export function describeSchedule(every: string | undefined, at: string[], cron: string | undefined, tz: string | undefined): string {
  const parts: string[] = [];
  if (every !== undefined) parts.push(`every ${every}`);
  if (at.length > 0) parts.push(`at ${at.join(", ")}`);
  if (cron !== undefined) parts.push(`${every !== undefined ? "checked at " : ""}cron "${cron}"`);
  if (tz !== undefined && (at.length > 0 || cron !== undefined || every !== undefined)) parts.push(`(${tz})`);
  return parts.length === 0 ? "no schedule" : parts.join(" ");
}
