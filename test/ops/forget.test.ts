import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { CofferError } from "../../src/core/errors.js";
import { forget, snapshotProtections } from "../../src/ops/forget.js";
import { Lock } from "../../src/repository/lock.js";
import { Repository } from "../../src/repository/repository.js";
import { CalendarBuckets } from "../../src/retention/index.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { listSnapshots, saveSnapshot } from "../../src/snapshot/snapshot-store.js";

const NOW = new Date("2026-11-21T00:00:00Z");
const DAY = 86_400_000;

function snap(daysAgo: number, over: Partial<Snapshot> = {}): Snapshot {
  return {
    time: new Date(NOW.getTime() - daysAgo * DAY).toISOString(),
    hostname: "web1",
    username: "u",
    paths: ["/srv"],
    tree: "ab".repeat(32), // forget never reads trees
    tags: [],
    kind: "scheduled",
    program: "coffer test",
    ...over,
  };
}

async function repoWith(snaps: Snapshot[]): Promise<{ repo: Repository; ids: string[] }> {
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none", clock: () => NOW });
  const ids: string[] = [];
  for (const s of snaps) ids.push(await saveSnapshot(repo, s));
  return { repo, ids };
}

const idsOf = async (repo: Repository) => (await listSnapshots(repo)).map((s) => s.id);
const invalid = (re: RegExp) => (e: unknown) => e instanceof CofferError && e.code === "INVALID" && re.test(e.message);

test("forget applies the policy per host+paths group and removes only snapshot files", async () => {
  const { repo, ids } = await repoWith([
    snap(5), snap(4), snap(3), snap(2), snap(1), // web1 /srv
    snap(5, { hostname: "web2" }), snap(1, { hostname: "web2" }), // web2 /srv
  ]);
  const dry = await forget(repo, { policy: { last: 2, timeZone: "UTC" }, dryRun: true, now: NOW });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.groups.map((g) => [g.title, g.decisions.filter((d) => d.keep).length]), [["host web1, paths /srv", 2], ["host web2, paths /srv", 2]]);
  assert.deepEqual(dry.removed.map((s) => s.id).sort(), [ids[0], ids[1], ids[2]].sort());
  assert.equal((await idsOf(repo)).length, 7, "a dry run removes nothing");

  const res = await forget(repo, { policy: { last: 2, timeZone: "UTC" }, now: NOW });
  assert.deepEqual((await idsOf(repo)).sort(), [ids[3], ids[4], ids[5], ids[6]].sort());
  assert.deepEqual(res.groups[0]?.decisions.map((d) => d.reasons), [["no rule keeps it"], ["no rule keeps it"], ["no rule keeps it"], ["last 2"], ["last 1"]]);
  assert.deepEqual(await repo.listIds("lock"), [], "the lock is released");
});

test("snapshots with a source name are grouped by it; --group-by changes the grouping", async () => {
  const { repo } = await repoWith([
    snap(3, { source: "app", hostname: "a" }), snap(2, { source: "app", hostname: "b" }), snap(1, { source: "app", hostname: "c" }),
    snap(2, { hostname: "a" }), snap(1, { hostname: "b" }),
  ]);
  const byDefault = await forget(repo, { policy: { last: 1, timeZone: "UTC" }, dryRun: true, now: NOW });
  assert.deepEqual(byDefault.groups.map((g) => g.title).sort(), ["host a, paths /srv", "host b, paths /srv", "source app"]);
  const byHost = await forget(repo, { policy: { last: 1, timeZone: "UTC" }, groupBy: ["host"], dryRun: true, now: NOW });
  assert.deepEqual(byHost.groups.map((g) => g.title).sort(), ["host a", "host b", "host c"]);
  const one = await forget(repo, { policy: { last: 1, timeZone: "UTC" }, groupBy: [], dryRun: true, now: NOW });
  assert.deepEqual(one.groups.map((g) => [g.title, g.decisions.length]), [["all snapshots", 5]]);
  assert.deepEqual(one.groups[0]?.fields, {});
});

test("the filter chooses what the policy sees; the rest is left alone", async () => {
  const { repo, ids } = await repoWith([snap(3, { kind: "manual" }), snap(2), snap(1)]);
  await forget(repo, { policy: { last: 1, timeZone: "UTC" }, filter: { kinds: ["scheduled"] }, now: NOW });
  assert.deepEqual((await idsOf(repo)).sort(), [ids[0], ids[2]].sort());
});

test("protected snapshots are kept by any policy and say why", async () => {
  const { repo, ids } = await repoWith([
    snap(40, { kind: "revision", label: "v1" }),
    snap(39, { kind: "pre-change", change: { status: "pending" } }),
    snap(38, { kind: "pre-change", change: { status: "verified", verified_by: "ann" } }),
    snap(37, { retention: "permanent" }),
    snap(36, { retention: { until: "2026-12-01" } }),
    snap(35, { retention: { until: "2026-11-01" } }),
    snap(34, { retention: { days: 60 } }),
    snap(33, { retention: { days: 10 } }),
    snap(32, { retention: "until-verified", change: { status: "pending" } }),
    snap(31, { retention: "until-verified", change: { status: "verified" } }),
    snap(1),
  ]);
  const res = await forget(repo, { policy: { maxAge: "7d", timeZone: "UTC" }, now: NOW });
  const reasons = new Map(res.groups.flatMap((g) => g.decisions.map((d) => [d.item.id, d.reasons[0]])));
  assert.equal(reasons.get(ids[0] as string), "protected: revision");
  assert.equal(reasons.get(ids[1] as string), "protected: pending pre-change");
  assert.equal(reasons.get(ids[2] as string), "max-age 7d");
  assert.equal(reasons.get(ids[3] as string), "protected: permanent");
  assert.equal(reasons.get(ids[4] as string), "protected: until 2026-12-01");
  assert.equal(reasons.get(ids[5] as string), "max-age 7d");
  assert.match(reasons.get(ids[6] as string) ?? "", /^protected: 60 days \(until 2026-12-17 00:00:00\)$/);
  assert.equal(reasons.get(ids[7] as string), "max-age 7d");
  assert.equal(reasons.get(ids[8] as string), "protected: until verified");
  assert.equal(reasons.get(ids[9] as string), "max-age 7d");
  assert.deepEqual((await idsOf(repo)).sort(), [0, 1, 3, 4, 6, 8, 10].map((i) => ids[i]).sort());

  const revisions = await forget(repo, { policy: { maxAge: "7d", timeZone: "UTC" }, includeRevisions: true, now: NOW });
  assert.deepEqual(revisions.removed.map((s) => s.id), [ids[0]]);
});

test("snapshotProtections: until dates end with their day in the policy's zone", () => {
  const s = (retention: Snapshot["retention"]) => snap(10, { retention });
  const at = (iso: string, zone: string, r: Snapshot["retention"]) => snapshotProtections(s(r), { now: new Date(iso), calendar: new CalendarBuckets(zone) });
  assert.deepEqual(at("2026-12-01T22:00:00Z", "UTC", { until: "2026-12-01" }), ["protected: until 2026-12-01"]);
  assert.deepEqual(at("2026-12-01T23:30:00Z", "Europe/Paris", { until: "2026-12-01" }), [], "already 2 December in Paris");
  assert.deepEqual(at("2026-12-01T10:00:00Z", "UTC", { until: "2026-12-01T09:00:00Z" }), []);
  assert.deepEqual(at("2026-12-01T10:00:00Z", "UTC", { until: "soon" }), ["protected: until soon (not a date)"]);
  assert.deepEqual(at("2026-12-01T10:00:00Z", "UTC", "until-verified"), ["protected: until verified"], "no change record: not verified");
  assert.deepEqual(snapshotProtections(snap(1, { kind: "pre-change", change: { status: "retired" } }), { now: NOW }), []);
  assert.deepEqual(snapshotProtections(snap(1, { kind: "revision" }), { now: NOW, includeRevisions: true }), []);
});

test("a policy that would empty a group is refused without allowEmpty; nothing is removed", async () => {
  const { repo, ids } = await repoWith([snap(50), snap(40), snap(2, { hostname: "web2" })]);
  await assert.rejects(forget(repo, { policy: { maxAge: "30d", timeZone: "UTC" }, now: NOW }), invalid(/^The policy would remove all 2 snapshots of host web1, paths \/srv; .*--allow-empty/));
  assert.equal((await idsOf(repo)).length, 3);
  assert.deepEqual(await repo.listIds("lock"), []);
  // The refusal carries the plan for a dry run to show.
  const err = (await forget(repo, { policy: { maxAge: "30d", timeZone: "UTC" }, dryRun: true, now: NOW }).catch((e: unknown) => e)) as CofferError;
  assert.deepEqual((err.data.result as { removed: { id: string }[] }).removed.map((s) => s.id).sort(), [ids[0], ids[1]].sort());
  // With allowEmpty the group goes.
  const res = await forget(repo, { policy: { maxAge: "30d", timeZone: "UTC" }, allowEmpty: true, now: NOW });
  assert.equal(res.removed.length, 2);
  assert.deepEqual(await idsOf(repo), [ids[2]]);
});

test("the newest of a group stays when the rules keep an older one", async () => {
  const { repo, ids } = await repoWith([snap(9, { tags: ["monthly"] }), snap(5), snap(1)]);
  const res = await forget(repo, { policy: { tags: ["monthly"], timeZone: "UTC" }, now: NOW });
  assert.deepEqual(res.removed.map((s) => s.id), [ids[1]]);
  assert.deepEqual(res.groups[0]?.decisions.map((d) => d.reasons[0]), ["tag monthly", "no rule keeps it", "protected: newest of group"]);
});

test("forget by id removes those snapshots, refusing protected ones unless forced", async () => {
  const { repo, ids } = await repoWith([snap(3), snap(2, { kind: "revision" }), snap(1, { retention: "permanent" })]);
  const [plain, revision, permanent] = ids as [string, string, string];
  await assert.rejects(
    forget(repo, { ids: [plain.slice(0, 8), revision, permanent], now: NOW }),
    invalid(/^Snapshots [0-9a-f]{8} \(revision\), [0-9a-f]{8} \(permanent\) are protected; nothing was removed \(use --force/),
  );
  assert.equal((await idsOf(repo)).length, 3);
  const one = await forget(repo, { ids: [plain.slice(0, 8)], now: NOW });
  assert.deepEqual(one.removed.map((s) => s.id), [plain]);
  assert.deepEqual(one.groups[0]?.decisions[0]?.reasons, ["named"]);
  const forced = await forget(repo, { ids: [revision, permanent], force: true, now: NOW });
  assert.deepEqual(forced.groups[0]?.decisions.map((d) => d.reasons), [["named", "forced over protected: revision"], ["named", "forced over protected: permanent"]]);
  assert.deepEqual(await idsOf(repo), []);
  await assert.rejects(forget(repo, { ids: ["ffff"], now: NOW }), (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND");
});

test("an empty policy without ids is a usage error", async () => {
  const { repo } = await repoWith([snap(1)]);
  await assert.rejects(forget(repo, { policy: { timeZone: "UTC" }, now: NOW }), (e: unknown) => e instanceof CofferError && e.code === "USAGE");
});

test("forget takes an exclusive lock; a dry run takes none", async () => {
  const { repo } = await repoWith([snap(2), snap(1)]);
  const other = await Lock.acquire(repo, { exclusive: false });
  try {
    await assert.rejects(forget(repo, { policy: { last: 1, timeZone: "UTC" }, now: NOW }), (e: unknown) => e instanceof CofferError && e.code === "LOCKED");
    assert.equal((await idsOf(repo)).length, 2);
    const dry = await forget(repo, { policy: { last: 1, timeZone: "UTC" }, dryRun: true, now: NOW });
    assert.equal(dry.removed.length, 1);
  } finally {
    await other.release();
  }
  await forget(repo, { policy: { last: 1, timeZone: "UTC" }, now: NOW });
  assert.equal((await idsOf(repo)).length, 1);
});
