import assert from "node:assert/strict";
import { test } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import { projectExpiry } from "../../src/ops/expiry.js";
import { forget } from "../../src/ops/forget.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { Repository } from "../../src/repository/repository.js";
import type { Snapshot, SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { listSnapshots, saveSnapshot } from "../../src/snapshot/snapshot-store.js";

const NOW = new Date("2026-11-20T12:00:00Z");
const DAY = 86_400_000;

function snap(daysAgo: number, over: Partial<Snapshot> = {}): SnapshotWithId {
  return {
    id: `s${daysAgo}-${over.kind ?? ""}${JSON.stringify(over.retention ?? "")}`,
    time: new Date(NOW.getTime() - daysAgo * DAY).toISOString(),
    hostname: "web1",
    username: "u",
    paths: ["/srv"],
    tree: "ab".repeat(32),
    tags: [],
    kind: "scheduled",
    program: "coffer test",
    ...over,
  };
}

const day = (e: { expires: Date | undefined } | undefined): string | undefined => e?.expires?.toISOString().slice(0, 10);

test("max-age: each snapshot expires the day it passes the age; protected ones never", () => {
  const snaps = [snap(40), snap(29.9), snap(20.5), snap(25, { retention: "permanent" }), snap(26, { retention: { until: "2026-12-10" } }), snap(1)];
  const out = projectExpiry(snaps, { policy: { maxAge: "30d", timeZone: "UTC" }, now: NOW });
  const by = new Map(out.map((e) => [e.snapshot.id, e]));
  assert.equal(by.get(snaps[0]!.id)?.now, true, "older than 30 days: now");
  assert.deepEqual(by.get(snaps[0]!.id)?.reasons, ["max-age 30d"]);
  assert.equal(day(by.get(snaps[1]!.id)), "2026-11-21", "29.9 days old: tomorrow");
  assert.equal(day(by.get(snaps[2]!.id)), "2026-11-30", "20.5 days old: in 10 days");
  assert.equal(by.get(snaps[3]!.id)?.expires, undefined, "permanent: never");
  assert.deepEqual(by.get(snaps[3]!.id)?.reasons, ["protected: permanent"]);
  assert.equal(day(by.get(snaps[4]!.id)), "2026-12-11", "kept until 2026-12-10, then past max-age: the day after");
  assert.equal(by.get(snaps[5]!.id)?.expires, undefined, "the newest of the group is always kept");
});

test("what expires now is exactly what forget removes now", async () => {
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none", clock: () => NOW });
  for (const d of [50, 40, 33, 20, 12, 8, 7.5, 3, 2, 1]) await saveSnapshot(repo, { ...snap(d), id: undefined } as unknown as Snapshot);
  await saveSnapshot(repo, { ...snap(60, { kind: "revision" }), id: undefined } as unknown as Snapshot);
  const all = await listSnapshots(repo);
  const policy = { daily: 3, weekly: 2, maxAge: "45d", timeZone: "UTC" };
  const projected = projectExpiry(all, { policy, now: NOW });
  const dry = await forget(repo, { policy, dryRun: true, now: NOW });
  assert.deepEqual(projected.filter((e) => e.now).map((e) => e.snapshot.id).sort(), dry.removed.map((s) => s.id).sort());
  assert.ok(dry.removed.length > 0);
  const revision = projected.find((e) => e.snapshot.kind === "revision");
  assert.equal(revision?.expires, undefined);
  const withRevisions = projectExpiry(all, { policy, now: NOW, includeRevisions: true });
  assert.equal(withRevisions.find((e) => e.snapshot.kind === "revision")?.now, true);
});

test("keep rules with new snapshots assumed every day: keep-daily 7 lets each snapshot go a week after it", () => {
  const snaps = [6, 5, 4, 3, 2, 1, 0].map((d) => snap(d + 0.5));
  const without = projectExpiry(snaps, { policy: { daily: 7, timeZone: "UTC" }, now: NOW });
  assert.ok(without.every((e) => e.expires === undefined), "no new snapshots: keep-daily 7 keeps these 7 for ever");
  const daily = projectExpiry(snaps, { policy: { daily: 7, timeZone: "UTC" }, now: NOW, assumeEvery: "1d" });
  assert.deepEqual(daily.map(day), ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]);
  assert.throws(() => projectExpiry(snaps, { policy: {}, now: NOW }), (e: unknown) => e instanceof CofferError && e.code === "USAGE");
});

test("days:N protection ends N days after the snapshot; until-verified lasts while the change is pending", () => {
  const snaps = [snap(10, { retention: { days: 14 } }), snap(10, { kind: "pre-change", change: { status: "pending" }, retention: "until-verified" }), snap(0)];
  const out = projectExpiry(snaps, { policy: { maxAge: "7d", timeZone: "UTC" }, now: NOW });
  assert.equal(day(out[0]), "2026-11-24");
  assert.equal(out[1]?.expires, undefined);
});
