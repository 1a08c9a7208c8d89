// Property tests of the policy engine: 500 random cases from a seeded generator (the seed is in
// the failure message, so a failing case can be replayed alone with RETENTION_SEED=<seed>).
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyPolicy, CalendarBuckets, parseDuration, type Policy, type RetentionItem } from "../../src/retention/index.js";

/** mulberry32: a tiny, good-enough seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ["UTC", "Europe/Paris", "America/Denver", "Asia/Tokyo", "Asia/Kathmandu", "Pacific/Auckland", "America/Los_Angeles"];
const DURATIONS = ["12h", "1d", "3d", "7d", "2w", "30d", "1m", "3m", "1y", "1y6m", "90d"];
const HOUR = 3_600_000;

interface Case {
  items: RetentionItem[];
  policy: Policy;
  now: Date;
}

function randomCase(seed: number): Case {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const now = new Date(Date.UTC(2026, 0, 1) + int(3 * 365 * 24) * HOUR);
  const groups = 1 + int(3);
  const count = int(45);
  const span = pick([6 * HOUR, 3 * 24 * HOUR, 60 * 24 * HOUR, 800 * 24 * HOUR]);
  const items: RetentionItem[] = [];
  for (let i = 0; i < count; i++) {
    // Some items share a time, a few are in the future.
    const back = r() < 0.1 && items.length > 0 ? now.getTime() - (items[int(items.length)] as RetentionItem).time.getTime() : Math.floor(r() * span) - (r() < 0.05 ? 5 * HOUR : 0);
    const item: RetentionItem = { id: `i${String(i).padStart(3, "0")}`, time: new Date(now.getTime() - back) };
    if (groups > 1) item.group = `g${int(groups)}`;
    if (r() < 0.3) item.tags = ["a", "b", "c"].filter(() => r() < 0.5);
    if (r() < 0.1) item.protect = [pick(["protected: revision", "protected: permanent", "protected: pending pre-change"])];
    items.push(item);
  }
  const policy: Policy = { timeZone: pick(ZONES) };
  for (const k of ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const) if (r() < 0.25) policy[k] = r() < 0.1 ? -1 : int(8);
  if (r() < 0.2) policy.within = pick(DURATIONS);
  for (const k of ["withinHourly", "withinDaily", "withinWeekly", "withinMonthly", "withinYearly"] as const) if (r() < 0.1) policy[k] = pick(DURATIONS);
  if (r() < 0.2) policy.tags = [pick(["a", "b", "a,b", "c"])];
  if (r() < 0.35) policy.maxAge = pick(DURATIONS);
  if (r() < 0.35) policy.maxCount = int(12);
  if (r() < 0.2) policy.allowEmpty = true;
  return { items, policy, now };
}

function groupsOf<T extends RetentionItem>(xs: readonly T[]): Map<string | undefined, T[]> {
  const m = new Map<string | undefined, T[]>();
  for (const x of xs) m.set(x.group, [...(m.get(x.group) ?? []), x]);
  return m;
}

const newer = (a: RetentionItem, b: RetentionItem) => a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function check(seed: number): void {
  const { items, policy, now } = randomCase(seed);
  const where = `seed ${seed}, policy ${JSON.stringify(policy)}, now ${now.toISOString()}`;
  const res = applyPolicy(items, policy, now);

  // The result partitions the input, one decision per item, ordered by time then id.
  assert.equal(res.decisions.length, items.length, where);
  assert.equal(res.keep.length + res.remove.length, items.length, where);
  assert.deepEqual(new Set([...res.keep, ...res.remove]), new Set(items), where);
  for (const d of res.decisions) {
    assert.equal(res.keep.includes(d.item), d.keep, where);
    assert.ok(d.reasons.length > 0, `every decision has a reason (${where})`);
  }
  for (let i = 1; i < res.decisions.length; i++) assert.ok(newer((res.decisions[i - 1] as { item: RetentionItem }).item, (res.decisions[i] as { item: RetentionItem }).item) <= 0, where);

  // A protected item is never removed, and says why it is kept.
  for (const d of res.decisions) {
    if (d.item.protect?.length) {
      assert.ok(d.keep, `protected ${d.item.id} removed (${where})`);
      for (const p of d.item.protect) assert.ok(d.reasons.includes(p), where);
    }
  }

  const kept = groupsOf(res.keep);
  for (const [group, list] of groupsOf(items)) {
    const keptHere = kept.get(group) ?? [];
    // max-count N never leaves more than N unprotected kept items in a group.
    if (policy.maxCount !== undefined) {
      const unprotected = keptHere.filter((it) => !res.decisions.find((d) => d.item === it)?.reasons.some((r) => r.startsWith("protected: ")));
      assert.ok(unprotected.length <= policy.maxCount, `group ${group}: ${unprotected.length} unprotected kept > max-count ${policy.maxCount} (${where})`);
    }
    // The newest of each group is kept unless allowEmpty.
    const newest = [...list].sort(newer).at(-1) as RetentionItem;
    if (!policy.allowEmpty) assert.ok(res.keep.includes(newest), `group ${group}: newest ${newest.id} removed (${where})`);
  }
  // max-age: nothing unprotected older than now minus max-age is kept.
  if (policy.maxAge !== undefined) {
    const cutoff = new CalendarBuckets(policy.timeZone).subtract(now, parseDuration(policy.maxAge));
    for (const d of res.decisions) {
      if (d.keep && d.item.time < cutoff) assert.ok(d.reasons.some((r) => r.startsWith("protected: ")), `${d.item.id} older than max-age kept (${where})`);
    }
  }

  // Idempotence: the kept set, decided again, keeps everything (stronger than "removes nothing
  // new except by max-age/max-count": the limits have already done their work too).
  const again = applyPolicy(res.keep, policy, now);
  for (const d of again.decisions) assert.ok(d.keep, `second pass removed ${d.item.id} for ${d.reasons.join(", ")} (${where})`);

  // Input order does not matter.
  const shuffled = [...items].reverse();
  assert.deepEqual(applyPolicy(shuffled, policy, now).decisions.map((d) => [d.item.id, d.keep, d.reasons]), res.decisions.map((d) => [d.item.id, d.keep, d.reasons]), where);
}

test("properties hold for 500 random cases", () => {
  const only = process.env.RETENTION_SEED;
  if (only !== undefined) return check(Number(only));
  for (let seed = 1; seed <= 500; seed++) check(seed);
});

test("a policy with only limits keeps by limits alone, and max-count counts the newest", () => {
  const items = Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, time: new Date(Date.UTC(2026, 10, 1 + i)) }));
  const r = applyPolicy(items, { maxCount: 3, timeZone: "UTC" }, new Date("2026-11-30T00:00:00Z"));
  assert.deepEqual(r.keep.map((i) => i.id), ["s3", "s4", "s5"]);
});
