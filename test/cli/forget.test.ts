import assert from "node:assert/strict";
import { test } from "node:test";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { listSnapshots, saveSnapshot } from "../../src/snapshot/snapshot-store.js";
import { type CliRepo, makeCliRepo } from "./cli-repo.js";

const DAY = 86_400_000;

/** Saves snapshots `daysAgo` before the real clock (the CLI runs with it); returns their ids. */
async function seed(r: CliRepo, snaps: [number, Partial<Snapshot>?][]): Promise<string[]> {
  const repo = await r.open();
  try {
    const ids: string[] = [];
    for (const [daysAgo, over] of snaps) {
      ids.push(
        await saveSnapshot(repo, {
          time: new Date(Date.now() - daysAgo * DAY).toISOString(),
          hostname: "web1",
          username: "u",
          paths: ["/srv/app"],
          tree: "cd".repeat(32),
          tags: [],
          kind: "scheduled",
          program: "coffer test",
          ...over,
        }),
      );
    }
    return ids;
  } finally {
    await repo.close();
  }
}

async function remaining(r: CliRepo): Promise<string[]> {
  const repo = await r.open();
  try {
    return (await listSnapshots(repo)).map((s) => s.id);
  } finally {
    await repo.close();
  }
}

test("forget --dry-run prints each snapshot, grouped, with keep/remove and the reasons", async () => {
  const r = await makeCliRepo();
  try {
    const ids = await seed(r, [[40], [20, { kind: "revision", label: "v1" }], [12, { kind: "pre-change", change: { status: "pending" } }], [10, { retention: "permanent" }], [9], [3], [1]]);
    const res = await r.run(["forget", "--max-age", "7d", "--max-count", "10", "--time-zone", "UTC", "--dry-run"]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /^host web1, paths \/srv\/app: keep 5, remove 2\n/);
    assert.match(res.out, /ID +Time +Kind +Tags +Action +Reasons\n-+\n/);
    const line = (id: string) => res.out.split("\n").find((l) => l.startsWith(id.slice(0, 8))) ?? "";
    assert.match(line(ids[0] as string), / remove +max-age 7d$/);
    assert.match(line(ids[1] as string), /revision +keep +protected: revision$/);
    assert.match(line(ids[2] as string), /pre-change +keep +protected: pending pre-change$/);
    assert.match(line(ids[3] as string), / keep +protected: permanent$/);
    assert.match(line(ids[4] as string), / remove +max-age 7d$/);
    assert.match(line(ids[6] as string), / keep +within max-age 7d, within max-count 10$/);
    assert.match(res.out, /would remove 2 of 7 snapshots \(dry run: nothing was removed\)\n$/);
    assert.equal((await remaining(r)).length, 7);

    const real = await r.run(["forget", "--max-age", "7d", "--max-count", "10", "--time-zone", "UTC"]);
    assert.equal(real.code, 0, real.err);
    assert.match(real.out, /removed 2 of 7 snapshots; the data they referenced stays until "coffer prune"\n$/);
    assert.deepEqual((await remaining(r)).sort(), [1, 2, 3, 5, 6].map((i) => ids[i]).sort());
  } finally {
    await r.cleanup();
  }
});

test("forget --json gives groups with decisions and reasons", async () => {
  const r = await makeCliRepo();
  try {
    const ids = await seed(r, [[3], [2], [1], [1, { hostname: "web2", tags: ["x"] }]]);
    const res = await r.run(["forget", "--keep-last", "2", "--time-zone", "UTC", "--dry-run", "--json"]);
    assert.equal(res.code, 0, res.err);
    const doc = JSON.parse(res.out) as {
      dry_run: boolean;
      groups: { group: Record<string, unknown>; title: string; keep: number; remove: number; decisions: { id: string; keep: boolean; reasons: string[]; tags: string[] }[] }[];
      kept: string[];
      removed: string[];
    };
    assert.equal(doc.dry_run, true);
    assert.deepEqual(doc.groups.map((g) => [g.group, g.keep, g.remove]), [[{ host: "web1", paths: ["/srv/app"] }, 2, 1], [{ host: "web2", paths: ["/srv/app"] }, 1, 0]]);
    assert.deepEqual(doc.groups[0]?.decisions.map((d) => [d.id, d.keep, d.reasons]), [[ids[0], false, ["no rule keeps it"]], [ids[1], true, ["last 2"]], [ids[2], true, ["last 1"]]]);
    assert.deepEqual(doc.removed, [ids[0]]);
    assert.equal(doc.kept.length, 3);
  } finally {
    await r.cleanup();
  }
});

test("forget refuses a policy that would remove every snapshot of a group unless --allow-empty", async () => {
  const r = await makeCliRepo();
  try {
    await seed(r, [[50], [40], [35]]);
    const res = await r.run(["forget", "--max-age", "30d"]);
    assert.equal(res.code, 1);
    assert.equal(res.out, "");
    assert.match(res.err, /The policy would remove all 3 snapshots of host web1, paths \/srv\/app; change the policy \(e\.g\. add keep-last 1\) or allow it with --allow-empty\./);
    assert.equal((await remaining(r)).length, 3);
    // A dry run shows the plan it refuses.
    const dry = await r.run(["forget", "--max-age", "30d", "--dry-run"]);
    assert.equal(dry.code, 1);
    assert.match(dry.out, /keep 0, remove 3/);
    assert.match(dry.out, /refused: The policy would remove all 3 snapshots/);
    const ok = await r.run(["forget", "--max-age", "30d", "--allow-empty"]);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(await remaining(r), []);
  } finally {
    await r.cleanup();
  }
});

test("forget keeps protected revisions, pending pre-change and permanent snapshots; --include-revisions lets revisions go", async () => {
  const r = await makeCliRepo();
  try {
    const ids = await seed(r, [
      [30, { kind: "revision" }],
      [29, { kind: "pre-change", change: { status: "pending" } }],
      [28, { kind: "pre-change", change: { status: "verified" } }],
      [27, { retention: "permanent" }],
      [26],
      [1],
    ]);
    const res = await r.run(["forget", "--keep-last", "1"]);
    assert.equal(res.code, 0, res.err);
    assert.deepEqual((await remaining(r)).sort(), [ids[0], ids[1], ids[3], ids[5]].sort());
    const more = await r.run(["forget", "--keep-last", "1", "--include-revisions", "--json"]);
    assert.equal(more.code, 0, more.err);
    assert.deepEqual((JSON.parse(more.out) as { removed: string[] }).removed, [ids[0]]);
  } finally {
    await r.cleanup();
  }
});

test("forget ID removes that snapshot; a protected one needs --force", async () => {
  const r = await makeCliRepo();
  try {
    const ids = await seed(r, [[3], [2, { kind: "revision" }], [1]]);
    const refused = await r.run(["forget", (ids[1] as string).slice(0, 8)]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /Snapshot [0-9a-f]{8} \(revision\) is protected; nothing was removed \(use --force to forget it anyway\)\./);
    const one = await r.run(["forget", (ids[0] as string).slice(0, 8)]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, / remove +named\n/);
    const forced = await r.run(["forget", ids[1] as string, "--force"]);
    assert.equal(forced.code, 0, forced.err);
    assert.deepEqual(await remaining(r), [ids[2]]);
    const unknown = await r.run(["forget", "ffffffff"]);
    assert.equal(unknown.code, 1);
  } finally {
    await r.cleanup();
  }
});

test("forget usage errors: no policy, ids with a policy, bad durations, zones and fields", async () => {
  const r = await makeCliRepo();
  try {
    const none = await r.run(["forget"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /Nothing to forget: give snapshot ids, keep rules/);
    const both = await r.run(["forget", "abcd", "--keep-last", "1"]);
    assert.equal(both.code, 2);
    const days = await r.run(["forget", "--keep-within", "7 days"]);
    assert.equal(days.code, 2);
    assert.match(days.err, /"7 days" is not a duration; use 7d\./);
    assert.equal((await r.run(["forget", "--keep-last", "1", "--time-zone", "Mars/Olympus"])).code, 2);
    assert.equal((await r.run(["forget", "--keep-last", "1", "--group-by", "planet"])).code, 2);
    assert.equal((await r.run(["forget", "--keep-daily", "x"])).code, 2);
    assert.equal((await r.run(["forget", "--keep-last", "1", "--force"])).code, 2);
  } finally {
    await r.cleanup();
  }
});
