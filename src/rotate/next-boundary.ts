import type { CalendarBuckets } from "../retention/index.js";
import type { Interval } from "./rule.js";

/** Longer than any one bucket, DST and leap days included. */
const SPAN: Record<Interval, number> = {
  hourly: 2 * 3_600_000,
  daily: 26 * 3_600_000,
  weekly: 8 * 86_400_000,
  monthly: 32 * 86_400_000,
  yearly: 367 * 86_400_000,
};

/**
 * The first instant after `t` in another calendar bucket (the next hour, midnight, Monday, …
 * in the calendar's time zone), found by bisection on bucket labels so DST and odd offsets need
 * no special case. A stream compares one number per write instead of formatting dates.
 */
export function nextBoundary(calendar: CalendarBuckets, interval: Interval, t: number): number {
  const here = calendar.label(interval, new Date(t));
  let lo = t;
  let hi = t + SPAN[interval];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (calendar.label(interval, new Date(mid)) === here) lo = mid;
    else hi = mid;
  }
  return hi;
}
