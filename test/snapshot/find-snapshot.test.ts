import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { changeTags, rewriteSnapshot } from "../../src/ops/rewrite-snapshot.js";
import { stampIntegrity } from "../../src/ops/stamp-integrity.js";
import { Repository } from "../../src/repository/repository.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { findSnapshot, listSnapshots, MAX_PREVIOUS_IDS, rewriteLineage, saveSnapshot } from "../../src/snapshot/snapshot-store.js";

const T0 = new Date("2026-03-01T10:00:00Z");

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return { time: T0.toISOString(), hostname: "h", username: "u", paths: ["/srv"], tree: "ab".repeat(32), tags: [], kind: "manual", program: "coffer test", ...over };
}

async function repoWith(...snaps: Snapshot[]): Promise<{ repo: Repository; ids: string[] }> {
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none", clock: () => T0 });
  const ids: string[] = [];
  for (const s of snaps) ids.push(await saveSnapshot(repo, s));
  return { repo, ids };
}

async function stamp(repo: Repository, at: string): Promise<Map<string, string>> {
  const list = await listSnapshots(repo);
  const done = await stampIntegrity(repo, list.map(({ id, ...json }) => ({ id, json: json as Record<string, unknown> })), new Date(at));
  return new Map(done.map((d) => [d.id, d.newId]));
}

test("ids a snapshot had before integrity stamps and tag rewrites still find it", async () => {
  const { repo, ids } = await repoWith(snap(), snap({ time: "2026-03-02T00:00:00.000Z", tree: "cd".repeat(32) }));
  const a0 = ids[0] as string;
  const b0 = ids[1] as string;

  const first = await stamp(repo, "2026-03-03T00:00:00Z");
  const a1 = first.get(a0) as string;
  assert.notEqual(a1, a0, "a stamp gives the snapshot a new file id");
  assert.deepEqual(await repo.listIds("snapshot"), [a1, first.get(b0)].sort());

  const tagged = await rewriteSnapshot(repo, a1, changeTags({ add: ["keep"] }), { now: new Date("2026-03-04T00:00:00Z") });
  const a2 = tagged.newId;
  const a3 = (await stamp(repo, "2026-03-05T00:00:00Z")).get(a2) as string;
  assert.equal(new Set([a0, a1, a2, a3]).size, 4);

  // Every id it had, in full or as a prefix, resolves to the current file.
  for (const ref of [a0, a1, a2, a3, a0.slice(0, 8), a1.slice(0, 8), a2.slice(0, 8)]) {
    const s = await findSnapshot(repo, ref);
    assert.equal(s.id, a3, `ref ${ref}`);
    assert.deepEqual(s.tags, ["keep"]);
  }
  const current = (await repo.loadJson("snapshot", a3)) as Snapshot;
  assert.equal(current.original, a0);
  assert.deepEqual(current.previous, [a1, a2]);

  // The other snapshot is not confused with it.
  assert.equal((await findSnapshot(repo, b0)).tree, "cd".repeat(32));
  await assert.rejects(findSnapshot(repo, "f".repeat(64).slice(0, 12)), (e: unknown) => isCofferError(e) && e.code === "NOT_FOUND");
});

test("a prefix shared by two snapshots' former ids is ambiguous, not a guess", async () => {
  // Two snapshots whose original ids share a prefix (as written by a copy or a crafted repository).
  const { repo } = await repoWith(snap({ original: "0123aa".padEnd(64, "1") }), snap({ time: "2026-03-02T00:00:00.000Z", original: "0123bb".padEnd(64, "2") }));
  await assert.rejects(findSnapshot(repo, "0123"), (e: unknown) => isCofferError(e) && e.code === "AMBIGUOUS");
  assert.equal((await findSnapshot(repo, "0123aa")).original, "0123aa".padEnd(64, "1"));
});

test("rewriteLineage keeps the first id as original and at most MAX_PREVIOUS_IDS ids in previous", () => {
  assert.deepEqual(rewriteLineage({}, "a0"), { original: "a0" });
  assert.deepEqual(rewriteLineage({ original: "a0" }, "a1"), { original: "a0", previous: ["a1"] });
  assert.deepEqual(rewriteLineage({ original: "a0", previous: ["a1"] }, "a2"), { original: "a0", previous: ["a1", "a2"] });
  const many = Array.from({ length: MAX_PREVIOUS_IDS }, (_, i) => `p${i}`);
  const next = rewriteLineage({ original: "a0", previous: many }, "last");
  assert.equal(next.previous?.length, MAX_PREVIOUS_IDS);
  assert.equal(next.previous?.[0], "p1", "the oldest is dropped");
  assert.equal(next.previous?.at(-1), "last");
});
