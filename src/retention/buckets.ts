import { CofferError } from "../core/errors.js";
import type { Duration } from "./duration.js";

/** Calendar buckets of the keep rules, named by their label (`daily 2026-11-20`). */
export type BucketKind = "hourly" | "daily" | "weekly" | "monthly" | "yearly";

/** Wall-clock fields of an instant in a time zone; month and day from 1. */
interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

const DAY_MS = 86_400_000;

/** The time zone the machine is set to, as Intl reports it. */
export function machineTimeZone(): string {
  return wallClock(undefined).timeZone;
}

/** Formatters by zone ("" for the machine's): making one costs far more than using it. */
const clocks = new Map<string, { format: Intl.DateTimeFormat; timeZone: string }>();

/**
 * A formatter of wall-clock fields (year to second, 24-hour) in `timeZone` (an IANA name;
 * undefined: the machine's) and the zone's canonical name, made once per zone for the life of
 * the process. Throws INVALID for a zone Intl does not know.
 */
export function wallClock(timeZone: string | undefined): { format: Intl.DateTimeFormat; timeZone: string } {
  const key = timeZone ?? "";
  let c = clocks.get(key);
  if (c === undefined) {
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat("en-US", {
        ...(timeZone !== undefined ? { timeZone } : {}),
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new CofferError("INVALID", `"${timeZone}" is not a time zone; use an IANA name such as Europe/Paris, America/Denver or UTC.`, { timeZone });
    }
    c = { format, timeZone: format.resolvedOptions().timeZone };
    clocks.set(key, c);
  }
  return c;
}

/**
 * Calendar arithmetic in one IANA time zone, through Intl only: wall-clock fields of an
 * instant, bucket labels, and stepping back by a calendar duration.
 *
 * Buckets follow the wall clock, as restic's do: in the autumn DST change the repeated hour
 * (02:00–03:00 twice in Europe/Paris) is one hourly bucket, a 23-hour or 25-hour day is one
 * daily bucket, and weeks are ISO weeks (Monday first; the week of 29 Dec 2026 is 2026-W53).
 */
export class CalendarBuckets {
  readonly timeZone: string;
  readonly #format: Intl.DateTimeFormat;

  constructor(timeZone: string = machineTimeZone()) {
    const c = wallClock(timeZone);
    this.#format = c.format;
    this.timeZone = c.timeZone;
  }

  /** The label of the bucket `t` falls in: `2026-11-20T14`, `2026-11-20`, `2026-W47`, `2026-11`, `2026`. */
  label(kind: BucketKind, t: Date): string {
    return this.labels(t)[kind];
  }

  /** Every bucket label of `t` at once (one time-zone lookup). */
  labels(t: Date): Record<BucketKind, string> {
    const w = this.#wall(t.getTime());
    const { year, week } = isoWeek(w.year, w.month, w.day);
    const monthly = `${pad(w.year, 4)}-${pad(w.month)}`;
    const daily = `${monthly}-${pad(w.day)}`;
    return { hourly: `${daily}T${pad(w.hour)}`, daily, weekly: `${pad(year, 4)}-W${pad(week)}`, monthly, yearly: pad(w.year, 4) };
  }

  /**
   * `t` minus `d`: years, months and days on the wall clock (31 March minus a month is
   * 3 March, as Go's AddDate normalizes), then hours as elapsed time. A wall time that a DST
   * change skips moves forward by the gap; one that occurs twice is the earlier instant.
   */
  subtract(t: Date, d: Duration): Date {
    return this.#step(t, d, -1);
  }

  /** `t` plus `d`, by the same rules as `subtract`. */
  add(t: Date, d: Duration): Date {
    return this.#step(t, d, 1);
  }

  /** `2026-11-20 14:03:12` on this zone's wall clock. */
  format(t: Date): string {
    const w = this.#wall(t.getTime());
    return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`;
  }

  #step(t: Date, d: Duration, sign: 1 | -1): Date {
    const w = this.#wall(t.getTime());
    const local = utc({ ...w, year: w.year + sign * d.years, month: w.month + sign * d.months, day: w.day + sign * d.days });
    return new Date(this.#instant(local) + sign * d.hours * 3_600_000);
  }

  /** The instant whose wall clock reads `local` (wall fields encoded as a UTC time value). */
  #instant(local: number): number {
    const before = this.#offset(local - DAY_MS);
    const after = this.#offset(local + DAY_MS);
    const valid = [...new Set([before, after])].map((o) => local - o).filter((i) => this.#offset(i) === local - i);
    if (valid.length > 0) return Math.min(...valid);
    return local - before; // in a gap: the same distance past the change
  }

  /** Milliseconds the zone is ahead of UTC at instant `t`. */
  #offset(t: number): number {
    return utc(this.#wall(t)) - t;
  }

  #wall(t: number): WallTime {
    const w: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, ms: ((t % 1000) + 1000) % 1000 };
    for (const p of this.#format.formatToParts(t)) {
      if (p.type === "year" || p.type === "month" || p.type === "day" || p.type === "hour" || p.type === "minute" || p.type === "second") {
        w[p.type] = Number.parseInt(p.value, 10);
      }
    }
    return w;
  }
}

/** Wall-clock fields as a UTC time value, normalizing overflow (day 0 is the month's eve). */
function utc(w: WallTime): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day); // unlike Date.UTC, keeps years 0–99 as they are
  return d.setUTCHours(w.hour, w.minute, w.second, w.ms);
}

/** ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday. */
function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(utc({ year, month, day, hour: 0, minute: 0, second: 0, ms: 0 }));
  const dow = (date.getUTCDay() + 6) % 7; // Monday 0
  const thursday = date.getTime() + (3 - dow) * DAY_MS;
  const weekYear = new Date(thursday).getUTCFullYear();
  const jan1 = utc({ year: weekYear, month: 1, day: 1, hour: 0, minute: 0, second: 0, ms: 0 });
  return { year: weekYear, week: Math.floor((thursday - jan1) / (7 * DAY_MS)) + 1 };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}
