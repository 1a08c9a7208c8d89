import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { CofferError } from "../../src/core/errors.js";
import { forget } from "../../src/ops/forget.js";
import { annotate, changeTags, parseRetentionOverride, rewriteSnapshot, rewriteSnapshots } from "../../src/ops/rewrite-snapshot.js";
import { Repository } from "../../src/repository/repository.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { currentSnapshots, listSnapshots, loadAllSnapshots, saveSnapshot } from "../../src/snapshot/snapshot-store.js";

const T0 = new Date("2026-03-01T10:00:00Z");

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return { time: T0.toISOString(), hostname: "h", username: "u", paths: ["/srv"], tree: "ab".repeat(32), tags: ["nightly"], kind: "scheduled", program: "coffer test", ...over };
}

async function repoWith(...snaps: Snapshot[]): Promise<{ repo: Repository; ids: string[] }> {
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none", clock: () => T0 });
  const ids: string[] = [];
  for (const s of snaps) ids.push(await saveSnapshot(repo, s));
  return { repo, ids };
}

test("a rewrite writes a new file with original and rewritten set, then removes the old one", async () => {
  const { repo, ids } = await repoWith(snap({ future_field: { x: 1 } } as Partial<Snapshot>));
  const a = ids[0] as string;
  const r1 = await rewriteSnapshot(repo, a.slice(0, 8), changeTags({ add: ["keep"] }), { now: new Date("2026-03-02T00:00:00Z") });
  assert.equal(r1.changed, true);
  assert.notEqual(r1.newId, a);
  assert.deepEqual(await repo.listIds("snapshot"), [r1.newId]);
  const s1 = (await repo.loadJson("snapshot", r1.newId)) as Record<string, unknown>;
  assert.equal(s1["original"], a);
  assert.equal(s1["rewritten"], "2026-03-02T00:00:00.000Z");
  assert.deepEqual(s1["tags"], ["nightly", "keep"]);
  assert.deepEqual(s1["future_field"], { x: 1 }, "fields this build does not know are kept");
  assert.equal(s1["id"], undefined, "the id is not written into the file");

  // A second rewrite keeps the first id as original.
  const r2 = await rewriteSnapshot(repo, r1.newId, annotate({ label: "before migration", retention: "permanent" }), { now: new Date("2026-03-03T00:00:00Z") });
  const s2 = (await repo.loadJson("snapshot", r2.newId)) as Snapshot & { rewritten: string };
  assert.equal(s2.original, a);
  assert.equal(s2.label, "before migration");
  assert.equal(s2.retention, "permanent");
  assert.deepEqual(await repo.listIds("snapshot"), [r2.newId]);

  // Nothing to change: no new file.
  const same = await rewriteSnapshot(repo, r2.newId, changeTags({ add: ["keep"] }));
  assert.equal(same.changed, false);
  assert.equal(same.newId, r2.newId);
  assert.deepEqual(await repo.listIds("snapshot"), [r2.newId]);
  assert.deepEqual(await repo.listIds("lock"), [], "the lock is released");
});

test("after a crash between writing and removing, listSnapshots shows the newest rewrite only; forget removes both", async () => {
  const { repo, ids } = await repoWith(snap(), snap({ time: "2026-03-05T00:00:00.000Z" }));
  const a = ids[0] as string;
  const other = ids[1] as string;
  // What a rewrite interrupted after its save leaves: the old file and the new one (and one more after it).
  const { id: _, ...json } = (await listSnapshots(repo)).find((s) => s.id === a)!;
  const b = await saveSnapshot(repo, { ...json, tags: ["x"], original: a, rewritten: "2026-03-02T00:00:00.000Z" } as Snapshot);
  const c = await saveSnapshot(repo, { ...json, tags: ["y"], original: a, rewritten: "2026-03-04T00:00:00.000Z" } as Snapshot);
  const listed = await listSnapshots(repo);
  assert.deepEqual(listed.map((s) => s.id), [c, other], "one file per snapshot: the newest rewrite");
  const { stale } = currentSnapshots(await loadAllSnapshots(repo));
  assert.deepEqual(stale.get(c)?.map((s) => s.id).sort(), [a, b].sort());

  await forget(repo, { ids: [c.slice(0, 10)] });
  assert.deepEqual((await listSnapshots(repo)).map((s) => s.id), [other], "the stale copies do not come back");
  assert.deepEqual(await repo.listIds("snapshot"), [other]);
});

test("a check's integrity stamp (no rewritten field) is newer than the rewrite it was stamped on", async () => {
  const { repo, ids } = await repoWith(snap());
  const a = ids[0] as string;
  const { id: _, ...json } = (await listSnapshots(repo))[0]!;
  const tagged = { ...json, tags: ["x"], original: a, rewritten: "2026-03-02T00:00:00.000Z" } as Snapshot;
  const b = await saveSnapshot(repo, tagged);
  const c = await saveSnapshot(repo, { ...tagged, integrity: { verified_at: "2026-03-03T00:00:00.000Z" } });
  assert.deepEqual((await listSnapshots(repo)).map((s) => s.id), [c]);
  assert.ok(b);
});

test("tag: --set, then --add, then --remove; several snapshots at once; an unknown id changes nothing", async () => {
  const { repo, ids } = await repoWith(snap({ tags: ["a", "b"] }), snap({ tags: ["c"], time: "2026-03-02T00:00:00.000Z" }));
  const results = await rewriteSnapshots(repo, ids, changeTags({ set: ["x,y"], add: ["z"], remove: ["y"] }));
  assert.deepEqual(results.map((r) => r.snapshot.tags), [["x", "z"], ["x", "z"]]);
  const cleared = await rewriteSnapshots(repo, ["latest"], changeTags({ set: [""] }));
  assert.deepEqual(cleared[0]?.snapshot.tags, []);
  const before = await repo.listIds("snapshot");
  await assert.rejects(rewriteSnapshots(repo, [results[0]!.newId, "ffffffff"], changeTags({ add: ["q"] })), (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND");
  assert.deepEqual(await repo.listIds("snapshot"), before);
  assert.throws(() => changeTags({}), (e: unknown) => e instanceof CofferError && e.code === "USAGE");
});

test("annotate: label, description and retention override; empty values remove them", async () => {
  const { repo, ids } = await repoWith(snap({ label: "old", description: "d" }));
  const r = await rewriteSnapshot(repo, ids[0]!, annotate({ label: "", description: "new text", retention: { until: "2027-01-31" } }));
  assert.equal(r.snapshot.label, undefined);
  assert.equal(r.snapshot.description, "new text");
  assert.deepEqual(r.snapshot.retention, { until: "2027-01-31" });
  const r2 = await rewriteSnapshot(repo, r.newId, annotate({ retention: null }));
  assert.equal(r2.snapshot.retention, undefined);
  assert.equal("retention" in r2.snapshot, false);
});

test("parseRetentionOverride", () => {
  assert.equal(parseRetentionOverride("permanent"), "permanent");
  assert.equal(parseRetentionOverride("until-verified"), "until-verified");
  assert.equal(parseRetentionOverride("none"), null);
  assert.deepEqual(parseRetentionOverride("until:2027-01-31"), { until: "2027-01-31" });
  assert.deepEqual(parseRetentionOverride("until:2027-01-31T12:00:00+02:00"), { until: "2027-01-31T10:00:00.000Z" });
  assert.deepEqual(parseRetentionOverride("days:90"), { days: 90 });
  for (const bad of ["forever", "until:tomorrow", "until:2027-13-45", "days:-1", "days:x"]) {
    assert.throws(() => parseRetentionOverride(bad), (e: unknown) => e instanceof CofferError && e.code === "INVALID", bad);
  }
});
