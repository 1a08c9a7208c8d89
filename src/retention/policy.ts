import { CofferError } from "../core/errors.js";
import { CalendarBuckets } from "./buckets.js";
import { type Duration, parseDuration } from "./duration.js";

/** Anything with a time that a policy can keep or remove: a snapshot, a rotated file, a `.bak` copy. */
export interface RetentionItem {
  id: string;
  time: Date;
  tags?: string[];
  /** Grouping key; the policy applies to each group on its own (undefined = one group). */
  group?: string;
  /** Reasons this item must be kept whatever the policy says, e.g. ["protected: revision"]; computed by the caller. */
  protect?: string[];
}

/**
 * What to keep. Keep rules (an item is kept if any rule keeps it): `last`, `hourly` … `yearly`
 * (N calendar buckets, newest item of each; -1 = every bucket), `within`, `withinHourly` …
 * `withinYearly` (a duration back from the newest item that is not in the future, as restic's
 * `--keep-within`), `tags`. With no keep rule every item passes this stage, so a policy of
 * limits alone works. Limits (all must hold): `maxAge` (back from `now`), `maxCount`.
 */
export interface Policy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Duration, e.g. "30d", "2w", "1y6m", "12h". */
  within?: string;
  withinHourly?: string;
  withinDaily?: string;
  withinWeekly?: string;
  withinMonthly?: string;
  withinYearly?: string;
  /** Keep items with any of these tags (an "a,b" entry means both). */
  tags?: string[];
  /** Limit: remove unprotected items older than this, even if a keep rule keeps them. */
  maxAge?: string;
  /** Limit: at most this many unprotected items per group are kept (newest first). */
  maxCount?: number;
  /** IANA zone for calendar buckets and durations; default the machine's (Intl). */
  timeZone?: string;
  /** Without it, the newest item of each group is always kept ("protected: newest of group"). */
  allowEmpty?: boolean;
}

/** One item's fate, with every reason: ["daily 2026-11-20", "last 3"], ["max-count 10"], ["protected: revision"]. */
export interface Decision<T> {
  item: T;
  keep: boolean;
  reasons: string[];
}

/** Decisions, kept and removed items, each ordered by time then id. */
export interface PolicyResult<T> {
  decisions: Decision<T>[];
  keep: T[];
  remove: T[];
}

export const COUNT_RULES = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
export const WITHIN_RULES = ["withinHourly", "withinDaily", "withinWeekly", "withinMonthly", "withinYearly"] as const;

/** True when the policy has neither a keep rule nor a limit (it would decide nothing). */
export function isEmptyPolicy(p: Policy): boolean {
  return !hasKeepRule(p) && p.maxAge === undefined && p.maxCount === undefined;
}

export function hasKeepRule(p: Policy): boolean {
  return (
    COUNT_RULES.some((k) => (p[k] ?? 0) !== 0) ||
    p.within !== undefined ||
    WITHIN_RULES.some((k) => p[k] !== undefined) ||
    (p.tags ?? []).some((t) => t.trim() !== "")
  );
}

/** A policy checked and parsed once: durations, tag sets, the calendar. */
export interface CheckedPolicy {
  counts: Record<(typeof COUNT_RULES)[number], number>;
  within: Duration | undefined;
  withinBuckets: Record<(typeof WITHIN_RULES)[number], Duration | undefined>;
  tags: string[][];
  maxAge: Duration | undefined;
  maxCount: number | undefined;
  calendar: CalendarBuckets;
  allowEmpty: boolean;
  keepRules: boolean;
}

/** Validates `p`; throws CofferError INVALID naming the bad field. */
export function checkPolicy(p: Policy): CheckedPolicy {
  const counts = {} as CheckedPolicy["counts"];
  for (const k of COUNT_RULES) {
    const n = p[k] ?? 0;
    if (!Number.isInteger(n) || n < -1) throw new CofferError("INVALID", `keep ${k} must be a whole number of at least 0 (or -1 for unlimited), not ${String(n)}.`, { rule: k });
    counts[k] = n;
  }
  const withinBuckets = {} as CheckedPolicy["withinBuckets"];
  for (const k of WITHIN_RULES) withinBuckets[k] = optionalDuration(p[k]);
  const maxCount = p.maxCount;
  if (maxCount !== undefined && (!Number.isInteger(maxCount) || maxCount < 0)) {
    throw new CofferError("INVALID", `max-count must be a whole number of at least 0, not ${String(maxCount)}.`, { rule: "maxCount" });
  }
  return {
    counts,
    within: optionalDuration(p.within),
    withinBuckets,
    tags: (p.tags ?? []).map((t) => t.split(",").map((x) => x.trim()).filter((x) => x !== "")).filter((set) => set.length > 0),
    maxAge: optionalDuration(p.maxAge),
    maxCount,
    calendar: new CalendarBuckets(p.timeZone),
    allowEmpty: p.allowEmpty === true,
    keepRules: hasKeepRule(p),
  };
}

function optionalDuration(s: string | undefined): Duration | undefined {
  return s === undefined ? undefined : parseDuration(s);
}
