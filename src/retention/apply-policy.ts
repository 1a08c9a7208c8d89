import { CofferError } from "../core/errors.js";
import type { BucketKind } from "./buckets.js";
import { type CheckedPolicy, checkPolicy, COUNT_RULES, type Decision, type Policy, type PolicyResult, type RetentionItem, WITHIN_RULES } from "./policy.js";

const NEWEST = "protected: newest of group";

const WITHIN_KIND: Record<(typeof WITHIN_RULES)[number], BucketKind> = {
  withinHourly: "hourly",
  withinDaily: "daily",
  withinWeekly: "weekly",
  withinMonthly: "monthly",
  withinYearly: "yearly",
};

/**
 * Decides, for each item, keep or remove, and says why. Pure: the same items, policy and `now`
 * always give the same result, whatever the order of `items`.
 *
 * Per group, items are walked newest first (time, then id, descending):
 * 1. Keep rules, restic's algorithm: `last N` keeps the N newest; a bucket rule keeps the
 *    newest item of each of the N newest buckets and, while it has buckets left, the oldest
 *    item too (restic's "oldest" rule, which stretches the history kept); `within D` keeps items
 *    newer than the newest item (not in the future) minus D; `within-<bucket> D` keeps the newest
 *    of every bucket in that window; `tags` keeps tagged items. No keep rule: all pass.
 * 2. Limits remove what the rules kept: `maxAge` items older than `now` minus it, `maxCount`
 *    all but the newest N (the newest of the group counts as one of them).
 * 3. Protections win: an item with `protect` reasons is kept (and not counted by `maxCount`);
 *    without `allowEmpty`, the newest item of the group is kept.
 */
export function applyPolicy<T extends RetentionItem>(items: readonly T[], policy: Policy, now: Date): PolicyResult<T> {
  const p = checkPolicy(policy);
  for (const it of items) {
    if (!(it.time instanceof Date) || Number.isNaN(it.time.getTime())) throw new CofferError("INVALID", `Item "${it.id}" has no valid time; give each item a Date.`, { id: it.id });
  }
  const ordered = items.map((item, index) => ({ item, index })).sort((a, b) => compare(a.item, b.item) || a.index - b.index);
  const groups = new Map<string | undefined, number[]>();
  ordered.forEach((o, pos) => {
    const g = groups.get(o.item.group);
    if (g) g.push(pos);
    else groups.set(o.item.group, [pos]);
  });
  const decisions: Decision<T>[] = new Array(ordered.length);
  for (const positions of groups.values()) {
    const newestFirst = positions.reverse();
    const decided = decideGroup(newestFirst.map((pos) => (ordered[pos] as { item: T }).item), p, now);
    newestFirst.forEach((pos, i) => (decisions[pos] = decided[i] as Decision<T>));
  }
  return {
    decisions,
    keep: decisions.filter((d) => d.keep).map((d) => d.item),
    remove: decisions.filter((d) => !d.keep).map((d) => d.item),
  };
}

function compare(a: RetentionItem, b: RetentionItem): number {
  return a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** `list` is one group, newest first. */
function decideGroup<T extends RetentionItem>(list: T[], p: CheckedPolicy, now: Date): Decision<T>[] {
  const ruleReasons = p.keepRules ? keepRules(list, p, now) : list.map(() => []);
  const cutoff = p.maxAge ? p.calendar.subtract(now, p.maxAge) : undefined;
  const newest = p.allowEmpty ? -1 : 0;
  let rank = 0;
  return list.map((item, i) => {
    const reasons = ruleReasons[i] as string[];
    const ruleKept = !p.keepRules || reasons.length > 0;
    const protect = (item.protect ?? []).filter((r) => r !== "");
    const limits: string[] = [];
    if (cutoff && item.time < cutoff) limits.push(`max-age ${p.maxAge?.text}`);
    if (p.maxCount !== undefined && protect.length === 0 && (ruleKept || i === newest) && ++rank > p.maxCount) limits.push(`max-count ${p.maxCount}`);
    if (protect.length > 0) return { item, keep: true, reasons: [...protect, ...reasons] };
    if (ruleKept && limits.length === 0) return { item, keep: true, reasons: p.keepRules ? reasons : withinLimits(p) };
    if (i === newest) return { item, keep: true, reasons: [NEWEST] };
    return { item, keep: false, reasons: ruleKept ? limits : ["no rule keeps it"] };
  });
}

/** Why an item passed a policy of limits alone. */
function withinLimits(p: CheckedPolicy): string[] {
  const out: string[] = [];
  if (p.maxAge) out.push(`within max-age ${p.maxAge.text}`);
  if (p.maxCount !== undefined) out.push(`within max-count ${p.maxCount}`);
  return out.length > 0 ? out : ["empty policy"];
}

/** The keep rules' reasons for each item of one group (newest first); no reason = not kept. */
function keepRules(list: RetentionItem[], p: CheckedPolicy, now: Date): string[][] {
  // restic measures `within` from the newest snapshot that is not in the future.
  const latest = list.find((it) => it.time <= now)?.time;
  const cut = (d: CheckedPolicy["within"]) => (d && latest ? p.calendar.subtract(latest, d) : undefined);
  const withinCut = cut(p.within);
  const counted = COUNT_RULES.filter((k) => p.counts[k] !== 0).map((k) => ({ kind: k, left: p.counts[k], last: undefined as string | undefined }));
  const windows = WITHIN_RULES.filter((k) => p.withinBuckets[k]).map((k) => ({
    kind: WITHIN_KIND[k],
    text: p.withinBuckets[k]?.text ?? "",
    cut: cut(p.withinBuckets[k]),
    last: undefined as string | undefined,
  }));
  const needLabels = windows.length > 0 || counted.some((c) => c.kind !== "last");
  return list.map((item, i) => {
    const reasons: string[] = [];
    const oldest = i === list.length - 1;
    for (const set of p.tags) if (set.every((t) => item.tags?.includes(t))) reasons.push(`tag ${set.join(",")}`);
    if (p.within && (withinCut === undefined || item.time > withinCut)) reasons.push(`within ${p.within.text}`);
    const labels = needLabels ? p.calendar.labels(item.time) : undefined;
    for (const c of counted) {
      if (c.left === 0) continue;
      const val = c.kind === "last" ? String(i + 1) : (labels as Record<BucketKind, string>)[c.kind];
      if (val === c.last && !oldest) continue;
      reasons.push(`${c.kind} ${val}${val === c.last ? " (oldest)" : ""}`);
      c.last = val;
      if (c.left > 0) c.left--;
    }
    for (const w of windows) {
      if (w.cut !== undefined && !(item.time > w.cut)) continue;
      const val = (labels as Record<BucketKind, string>)[w.kind];
      if (val === w.last && !oldest) continue;
      reasons.push(`${w.kind} ${val}${val === w.last ? " (oldest)" : ""} within ${w.text}`);
      w.last = val;
    }
    return reasons;
  });
}
