/**
 * The kinds of value a configuration holds that are more than a type: durations, time spans,
 * sizes, times of day, time zones, cron expressions. Each check returns undefined or a message
 * of the form "what is wrong; how to fix it", which the schema turns into an issue.
 */
import { Cron } from "croner";
import { parseDuration } from "../retention/index.js";
import { parseByteSize } from "../rotate/parse-byte-size.js";

/** Calendar durations as retention writes them: `30d`, `2w`, `1y6m`, `12h` (m is months). */
export function checkDuration(v: string): string | undefined {
  try {
    parseDuration(v);
    return undefined;
  } catch (err) {
    return stripDot((err as Error).message);
  }
}

const SPAN_UNITS: Record<string, number> = { s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * An exact span of time for timeouts and delays: `90s`, `30min`, `2h`, `1h30min`, `1d`.
 * Minutes are `min` because in every other coffer duration `m` means months.
 */
export function parseSpan(v: string): number {
  const text = v.trim();
  if (!/^(\d+(s|min|h|d))+$/.test(text)) throw new Error(spanProblem(text));
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(s|min|h|d)/g)) ms += Number(m[1]) * (SPAN_UNITS[m[2] as string] ?? 0);
  return ms;
}

export function checkSpan(v: string): string | undefined {
  try {
    parseSpan(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function spanProblem(text: string): string {
  const units = "units: s, min, h, d";
  const bad = `"${text}" is not a time span`;
  if (/^\d+$/.test(text)) return `${bad}; add a unit, e.g. ${text}s or ${text}min (${units})`;
  const m = /^(\d+)\s*([a-z]+)$/i.exec(text);
  if (m) {
    const [, n, word] = m as unknown as [string, string, string];
    if (/^m$/.test(word)) return `${bad}; write minutes as ${n}min (m means months in coffer durations)`;
    if (/^(minutes?|mins?)$/i.test(word)) return `${bad}; use ${n}min`;
    if (/^(seconds?|secs?|sec)$/i.test(word)) return `${bad}; use ${n}s`;
    if (/^(hours?|hrs?)$/i.test(word)) return `${bad}; use ${n}h`;
    if (/^(days?)$/i.test(word)) return `${bad}; use ${n}d`;
  }
  return `${bad}; use a number and a unit, e.g. 30min or 1h30min (${units})`;
}

/** Bytes as a number or text: `5M`, `1G`, `500k`. */
export function checkSize(v: number | string): string | undefined {
  try {
    parseByteSize(v, "size");
    return undefined;
  } catch {
    return `"${String(v)}" is not a size; use a number of bytes or one with a k, M, G or T suffix, e.g. 500M`;
  }
}

export function parseSize(v: number | string): number {
  return parseByteSize(v, "size");
}

/** `02:00`, `1:30`, `23:59`. */
export function parseTimeOfDay(v: string): { hour: number; minute: number } | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(v.trim());
  if (!m) return undefined;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  return hour < 24 && minute < 60 ? { hour, minute } : undefined;
}

export function checkTimeOfDay(v: string): string | undefined {
  if (parseTimeOfDay(v) !== undefined) return undefined;
  const ampm = /^(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?$/i.exec(v.trim());
  if (ampm) {
    const h = (Number(ampm[1]) % 12) + ((ampm[3] as string).toLowerCase() === "p" ? 12 : 0);
    return `"${v}" is not a time of day; use the 24-hour form "${String(h).padStart(2, "0")}:${ampm[2] ?? "00"}"`;
  }
  return `"${v}" is not a time of day; use HH:MM on a 24-hour clock, e.g. "02:00"`;
}

/** An IANA time zone name such as `Europe/Berlin` or `UTC`. */
export function checkTimeZone(v: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: v });
    return undefined;
  } catch {
    return `"${v}" is not a time zone; use an IANA name such as UTC, Europe/Berlin or America/New_York`;
  }
}

/**
 * A cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds
 * first; names (`mon`, `jan`) and `@daily`-style nicknames too. Checked by croner, the library
 * the scheduler uses to compute the next run.
 */
export function checkCron(v: string): string | undefined {
  const fields = v.trim().split(/\s+/);
  if (!v.trim().startsWith("@") && (fields.length < 5 || fields.length > 6)) {
    return `"${v}" is not a cron expression: it has ${fields.length} field${fields.length === 1 ? "" : "s"}; write 5 (minute hour day month weekday), e.g. "0 2 * * *" for 02:00 every day`;
  }
  try {
    new Cron(v.trim(), { paused: true });
    return undefined;
  } catch (err) {
    return `"${v}" is not a cron expression (${stripDot((err as Error).message)}); write minute hour day month weekday, e.g. "30 1 * * 1" for Mondays at 01:30`;
  }
}

/** `10%` or a size: free space thresholds. */
export function checkSizeOrPercent(v: number | string): string | undefined {
  if (typeof v === "string" && /%\s*$/.test(v)) {
    const n = Number(v.replace(/%\s*$/, ""));
    return Number.isFinite(n) && n >= 0 && n <= 100 ? undefined : `"${v}" is not a percentage; use a number from 0 to 100 followed by %, e.g. 10%`;
  }
  const bad = checkSize(v);
  return bad === undefined ? undefined : `${bad}, or a percentage such as 10%`;
}

function stripDot(s: string): string {
  return s.endsWith(".") ? s.slice(0, -1) : s;
}
