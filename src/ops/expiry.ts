import { CofferError } from "../core/errors.js";
import { applyPolicy, CalendarBuckets, checkPolicy, isEmptyPolicy, parseDuration, type Policy } from "../retention/index.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { type ForgetItem, type GroupField, snapshotProtections, toItem } from "./forget.js";

/**
 * When is each snapshot due to be forgotten under a policy? ("Which backups expire within
 * 7 days?") Answered by simulation, so it is exactly what `forget` would do: the policy is
 * applied as a daily `forget` would apply it, at `now`, then at the same wall-clock time on each
 * following day of the policy's time zone, up to `horizonDays`; what a day removes is gone for
 * the days after (as it would be). Protections are evaluated at each day, so an `until` or
 * `days` override expires when it should. The newest snapshot of each group is kept, as
 * forget keeps it.
 *
 * New snapshots change what a policy keeps (keep-daily 7 keeps the newest 7 days that have a
 * snapshot). By default none are assumed, so only limits (max-age) and expiring protections
 * remove anything later than now; with `assumeEvery` ("1d"), each group is assumed to get a
 * new snapshot that often, like its newest one, from its newest one on.
 */
export interface ExpiryOptions {
  policy: Policy;
  now: Date;
  groupBy?: GroupField[];
  includeRevisions?: boolean;
  /** Days simulated after now (default 400). */
  horizonDays?: number;
  /** A duration ("1d", "12h"): each group gets a new (simulated) snapshot this often. */
  assumeEvery?: string;
}

export interface Expiry {
  snapshot: SnapshotWithId;
  /** When a daily forget would remove it: `now` itself, a later day, or undefined (not within the horizon). */
  expires: Date | undefined;
  /** Removed by the policy now (a forget run now would remove it). */
  now: boolean;
  /** Why it goes then (the decision's reasons, e.g. "max-age 30d"), or why it stays now. */
  reasons: string[];
}

const DEFAULT_HORIZON = 400;
const MAX_SIMULATED_PER_GROUP = 5000;

export function projectExpiry(snapshots: readonly SnapshotWithId[], opts: ExpiryOptions): Expiry[] {
  checkPolicy(opts.policy);
  if (isEmptyPolicy(opts.policy)) throw new CofferError("USAGE", "Give a policy to project expiry with (keep rules such as keep-daily 7, or limits such as max-age 30d).");
  const calendar = new CalendarBuckets(opts.policy.timeZone);
  const horizon = opts.horizonDays ?? DEFAULT_HORIZON;
  const every = opts.assumeEvery !== undefined ? parseDuration(opts.assumeEvery) : undefined;
  if (every && every.years + every.months + every.days + every.hours === 0) throw new CofferError("INVALID", `--assume-every ${every.text} is no interval.`);

  const result = new Map<string, Expiry>(snapshots.map((s) => [s.id, { snapshot: s, expires: undefined, now: false, reasons: [] }]));
  let alive: SnapshotWithId[] = [...snapshots];
  // Simulated snapshots: per group, the next time one is due, and the snapshot it copies.
  const next = new Map<string, { at: Date; like: SnapshotWithId; n: number }>();
  if (every) {
    const newest = new Map<string, SnapshotWithId>();
    for (const s of snapshots) {
      const g = toItem(s, opts.groupBy, []).group ?? "";
      const cur = newest.get(g);
      if (!cur || Date.parse(s.time) > Date.parse(cur.time)) newest.set(g, s);
    }
    for (const [g, s] of newest) next.set(g, { at: calendar.add(new Date(s.time), every), like: s, n: 0 });
  }

  for (let day = 0; day <= horizon; day++) {
    const t = day === 0 ? opts.now : calendar.add(opts.now, { years: 0, months: 0, days: day, hours: 0, text: `${day}d` });
    for (const [g, n] of next) {
      while (n.at <= t && n.n < MAX_SIMULATED_PER_GROUP) {
        alive.push(simulated(n.like, n.at, `~${g}~${n.n++}`));
        n.at = calendar.add(n.at, every as NonNullable<typeof every>);
      }
    }
    const items: ForgetItem[] = alive.map((s) => toItem(s, opts.groupBy, snapshotProtections(s, { now: t, includeRevisions: opts.includeRevisions === true, calendar })));
    const decided = applyPolicy(items, { ...opts.policy, allowEmpty: false }, t);
    const removed = new Set<string>();
    for (const d of decided.decisions) {
      const e = result.get(d.item.id);
      if (d.keep) {
        if (day === 0 && e) e.reasons = d.reasons;
        continue;
      }
      removed.add(d.item.id);
      if (e) {
        e.expires = t;
        e.now = day === 0;
        e.reasons = d.reasons;
      }
    }
    if (removed.size > 0) alive = alive.filter((s) => !removed.has(s.id));
    if (!alive.some((s) => result.has(s.id))) break;
  }
  return snapshots.map((s) => result.get(s.id) as Expiry);
}

/** A future snapshot like `like` (same host, paths, source, tags), without its protections. */
function simulated(like: SnapshotWithId, at: Date, id: string): SnapshotWithId {
  const s: SnapshotWithId = { ...like, id, time: at.toISOString(), kind: "scheduled" };
  delete s.retention;
  delete s.change;
  delete s.label;
  return s;
}
