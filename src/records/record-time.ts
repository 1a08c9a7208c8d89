import { CofferError } from "../core/errors.js";

/** Splits a time-field path `a.b.c` into keys; an empty part is an error. */
export function parseFieldPath(path: string): string[] {
  const parts = path.split(".");
  if (path === "" || parts.some((p) => p === "")) throw new CofferError("USAGE", `"${path}" is not a field path; write the keys joined by dots, e.g. timestamp or meta.sent_at.`, { path });
  return parts;
}

/** The value at `path` in `record`, or undefined when a key on the way is missing. */
export function getField(record: unknown, path: readonly string[]): unknown {
  let v: unknown = record;
  for (const k of path) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** Epoch values below this are seconds, above it milliseconds (1e11 s is the year 5138). */
const SECONDS_LIMIT = 1e11;

/**
 * A record's time: an ISO 8601 text (`2025-12-17T12:00:00Z`), the `2025-12-17 12:00:00` form
 * (local time when it has no zone, as Date reads it), a date alone, or an epoch number (seconds
 * or milliseconds, told apart by size, as a number or digits). Anything else is no time.
 */
export function parseRecordTime(v: unknown): Date | undefined {
  let ms: number;
  if (typeof v === "number") ms = Number.isFinite(v) ? (Math.abs(v) < SECONDS_LIMIT ? v * 1000 : v) : NaN;
  else if (typeof v === "string") {
    const s = v.trim();
    if (/^-?\d+(\.\d+)?$/.test(s)) {
      const n = Number(s);
      ms = Math.abs(n) < SECONDS_LIMIT ? n * 1000 : n;
    } else if (/^\d{4}-\d{2}-\d{2}/.test(s)) ms = Date.parse(s);
    else ms = NaN;
  } else ms = NaN;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms) : undefined;
}
