import type { Warning } from "../core/warning.js";
import { formatBytes } from "./parse-byte-size.js";
import type { ResolvedRule } from "./rule.js";

export interface DueInput {
  size: number;
  mtime: Date;
  /** When the current file began: its creation or its last rotation, whichever is later; undefined if unknown. */
  created: Date | undefined;
  /** The last rotation (state file, else the newest copy); undefined if unknown. */
  lastRotation: Date | undefined;
  now: Date;
  force: boolean;
}

export interface DueDecision {
  due: boolean;
  /** Why, both ways: ["size 6.1 MiB ≥ 5.0 MiB"], ["not due: daily, last rotated 2026-11-20"]. */
  reasons: string[];
  warnings: Warning[];
}

/** A recorded rotation up to this far in the future is clock skew (DST, a moved machine), as logrotate allows. */
const FUTURE_SKEW_MS = 25 * 3_600_000;

/**
 * Whether a log is due, and why — pure, logrotate's order: an empty file is left alone unless
 * `ifEmpty`; `force` rotates; `maxSize` and `size` rotate whatever the time; the interval
 * rotates when its calendar bucket changed since the last rotation, unless a guard (`minSize`,
 * `minAge`) holds it back. A last rotation far in the future means the clock went backwards:
 * a warning, and the interval counts as due (the file cannot wait for the clock to catch up).
 */
export function checkDue(rule: ResolvedRule, f: DueInput): DueDecision {
  const warnings: Warning[] = [];
  if (f.size === 0 && !rule.ifEmpty) return { due: false, reasons: ["empty (not-if-empty)"], warnings };
  if (f.force) return { due: true, reasons: ["forced"], warnings };
  if (rule.maxSize !== undefined && f.size > rule.maxSize) {
    return { due: true, reasons: [`size ${formatBytes(f.size)} > max-size ${formatBytes(rule.maxSize)}`], warnings };
  }
  if (rule.size !== undefined && f.size >= rule.size) {
    return { due: true, reasons: [`size ${formatBytes(f.size)} ≥ ${formatBytes(rule.size)}`], warnings };
  }
  const notDue: string[] = [];
  if (rule.size !== undefined) notDue.push(`size ${formatBytes(f.size)} < ${formatBytes(rule.size)}`);
  if (rule.interval === undefined) return { due: false, reasons: notDue.map((r) => `not due: ${r}`), warnings };
  const interval = rule.interval;
  const last = f.lastRotation;
  let why: string | undefined;
  if (last === undefined) {
    notDue.push(`${interval}: no earlier rotation known, counting from now`);
  } else if (last.getTime() > f.now.getTime()) {
    const ahead = last.getTime() - f.now.getTime();
    if (ahead > 60_000) {
      warnings.push({
        code: "CLOCK_BACKWARDS",
        message: `last rotated at ${last.toISOString()}, after the current time ${f.now.toISOString()}: the clock went backwards${ahead > FUTURE_SKEW_MS ? "; rotating now" : ""}.`,
      });
    }
    if (ahead > FUTURE_SKEW_MS) why = `${interval}: last rotation ${last.toISOString()} is in the future`;
    else notDue.push(`${interval}: last rotated ${label(rule, last)} (in the future)`);
  } else {
    const was = label(rule, last);
    const is = label(rule, f.now);
    if (was !== is) why = `${interval}: last rotated ${was}, now ${is}`;
    else notDue.push(`${interval}: already rotated ${is}`);
  }
  if (why === undefined) return { due: false, reasons: notDue.map((r) => `not due: ${r}`), warnings };
  if (rule.minSize !== undefined && f.size < rule.minSize) {
    return { due: false, reasons: [`${why}, but under min-size ${formatBytes(rule.minSize)} (${formatBytes(f.size)})`], warnings };
  }
  if (rule.minAge !== undefined) {
    const from = rule.minAgeFrom === "modified" ? f.mtime : f.created;
    if (from !== undefined && from > rule.calendar.subtract(f.now, rule.minAge)) {
      const what = rule.minAgeFrom === "modified" ? "changed" : "started";
      return { due: false, reasons: [`${why}, but younger than min-age ${rule.minAge.text} (${what} ${from.toISOString()})`], warnings };
    }
  }
  return { due: true, reasons: [why], warnings };
}

function label(rule: ResolvedRule, t: Date): string {
  return rule.calendar.label(rule.interval ?? "daily", t);
}
