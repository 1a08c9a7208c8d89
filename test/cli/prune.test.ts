import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Lock } from "../../src/repository/lock.js";
import { listSnapshots, saveSnapshot } from "../../src/snapshot/snapshot-store.js";
import { makeCliRepo } from "./cli-repo.js";

async function withData(): Promise<{ r: Awaited<ReturnType<typeof makeCliRepo>>; src: string; ids: string[] }> {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(src);
  for (const n of ["a", "b", "c"]) await writeFile(join(src, `${n}.bin`), randomBytes(60_000));
  const ids = [await r.backup([src], new Date(Date.now() - 3 * 86_400_000))];
  await unlink(join(src, "b.bin"));
  ids.push(await r.backup([src], new Date(Date.now() - 2 * 86_400_000)));
  return { r, src, ids };
}

test("prune --dry-run --json, then prune: what the dry run said is what prune did", async () => {
  const { r, ids } = await withData();
  try {
    assert.equal((await r.run(["forget", ids[0] as string])).code, 0);
    const dry = await r.run(["--json", "prune", "--dry-run", "--max-unused", "0%"]);
    assert.equal(dry.code, 0, dry.err);
    const plan = JSON.parse(dry.out) as Record<string, unknown>;
    assert.equal(plan["dry_run"], true);
    assert.equal((plan["repacked_packs"] as string[]).length, 1);
    assert.ok((plan["bytes_freed"] as number) > 60_000);
    const text = await r.run(["prune", "--max-unused", "0%"]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^1 snapshot reaches \d+ blobs/m);
    assert.match(text.out, /^packs: \d+ kept, 1 repacked \(2 blobs\), \d+ deleted$/m);
    assert.match(text.out, /^freed \d+\.\d KiB$/m);
    const again = await r.run(["prune"]);
    assert.match(again.out, /^nothing to delete$/m);
    const c = await r.run(["check", "--read-data"]);
    assert.equal(c.code, 0, c.out + c.err);
  } finally {
    await r.cleanup();
  }
});

test("prune: a bad --max-unused is a usage error (exit 2)", async () => {
  const r = await makeCliRepo();
  try {
    const res = await r.run(["prune", "--max-unused", "lots"]);
    assert.equal(res.code, 2);
    assert.match(res.err, /max-unused/);
  } finally {
    await r.cleanup();
  }
});

test("prune exits 11 (LOCKED) while another process holds a lock, and deletes nothing", async () => {
  const { r, ids } = await withData();
  try {
    assert.equal((await r.run(["forget", ids[0] as string])).code, 0);
    const repo = await r.open();
    const lock = await Lock.acquire(repo, { exclusive: false });
    try {
      const packs = await repo.listIds("data");
      const res = await r.run(["prune"]);
      assert.equal(res.code, 11, res.err);
      assert.match(res.err, /locked/);
      assert.deepEqual(await repo.listIds("data"), packs, "no pack was deleted");
    } finally {
      await lock.release();
      await repo.close();
    }
    assert.equal((await r.run(["prune"])).code, 0, "once the lock is gone, prune runs");
  } finally {
    await r.cleanup();
  }
});

test("forget --prune: forgets, then prunes; with --dry-run it shows what prune would free after the forget", async () => {
  const { r } = await withData();
  try {
    const dry = await r.run(["--json", "forget", "--keep-last", "1", "--prune", "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    const j = JSON.parse(dry.out) as { removed: string[]; prune: Record<string, unknown> };
    assert.equal(j.removed.length, 1);
    assert.equal(j.prune["dry_run"], true);
    assert.ok((j.prune["unused_bytes"] as number) > 60_000, "prune counts the forgotten snapshot's data as unused");
    const repo = await r.open();
    assert.equal((await listSnapshots(repo)).length, 2, "a dry run forgets nothing");
    await repo.close();

    const res = await r.run(["forget", "--keep-last", "1", "--prune", "--max-unused", "0%"]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /^removed 1 of 2 snapshots$/m);
    assert.match(res.out, /^freed /m);
    const c = await r.run(["check", "--read-data"]);
    assert.equal(c.code, 0, c.out + c.err);
  } finally {
    await r.cleanup();
  }
});

test("tag and annotate rewrite snapshots; snapshots shows the result", async () => {
  const { r, ids } = await withData();
  try {
    const t = await r.run(["tag", (ids[0] as string).slice(0, 8), "latest", "--add", "keep,audit", "--remove", "nope"]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^snapshot [0-9a-f]{8} is now [0-9a-f]{8}: tags keep,audit$/m);
    assert.match(t.out, /^changed 2 of 2 snapshots$/m);
    const a = await r.run(["--json", "annotate", "latest", "--label", "before migration", "--keep", "until:2030-01-01", "--description", "ticket 42"]);
    assert.equal(a.code, 0, a.err);
    const [res] = JSON.parse(a.out) as { changed: boolean; snapshot: { label: string; retention: unknown; original: string; rewritten: string } }[];
    assert.equal(res?.changed, true);
    assert.equal(res?.snapshot.label, "before migration");
    assert.deepEqual(res?.snapshot.retention, { until: "2030-01-01" });
    assert.equal(res?.snapshot.original, ids[1], "original is the first id the snapshot had");
    assert.ok(res?.snapshot.rewritten);
    const list = await r.run(["snapshots"]);
    assert.match(list.out, /before migration +keep,audit/);
    assert.match(list.out, /^2 snapshots$/m);

    const bad = await r.run(["annotate", "latest", "--keep", "forever"]);
    assert.equal(bad.code, 2);
    const none = await r.run(["tag", "latest"]);
    assert.equal(none.code, 2, "nothing to change is a usage error");
    const unknown = await r.run(["tag", "ffffffff", "--add", "x"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No snapshot has an id starting with "ffffffff"/);
  } finally {
    await r.cleanup();
  }
});

test("snapshots --expiry and --expires-within; --pending", async () => {
  const { r, ids } = await withData();
  try {
    await r.run(["annotate", ids[0] as string, "--keep", "permanent"]);
    const res = await r.run(["snapshots", "--expiry", "--max-age", "1d", "--time-zone", "UTC"]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /Expires +Why/);
    assert.match(res.out, / never +protected: permanent$/m);
    assert.match(res.out, / never +protected: newest of group$/m);
    assert.match(res.out, /expiry assumes no new snapshots/);
    const soon = await r.run(["--json", "snapshots", "--expiry", "--keep-last", "1", "--assume-every", "1d", "--expires-within", "3d"]);
    assert.equal(soon.code, 0, soon.err);
    const listed = JSON.parse(soon.out) as { id: string; expires: string | null; expires_reasons: string[] }[];
    assert.deepEqual(listed.map((s) => s.id), [ids[1]], "the newest goes when a new one is assumed tomorrow; the permanent one never");
    assert.ok(listed[0]?.expires);
    const usage = await r.run(["snapshots", "--max-age", "1d"]);
    assert.equal(usage.code, 2, "policy options without --expiry");
    const noPolicy = await r.run(["snapshots", "--expiry"]);
    assert.equal(noPolicy.code, 2);

    assert.deepEqual(JSON.parse((await r.run(["--json", "snapshots", "--pending"])).out), []);
    const repo = await r.open();
    const [base] = await listSnapshots(repo);
    const { id: _, original: _o, ...json } = base! as typeof base & { rewritten?: string };
    delete (json as { rewritten?: string }).rewritten; // new snapshots, not rewrites of this one
    const waiting = await saveSnapshot(repo, { ...json, kind: "pre-change", change: { status: "pending", ticket: "T-1" } });
    await saveSnapshot(repo, { ...json, kind: "pre-change", change: { status: "verified" } });
    await repo.close();
    const pending = await r.run(["--json", "snapshots", "--pending"]);
    assert.deepEqual((JSON.parse(pending.out) as { id: string }[]).map((s) => s.id), [waiting]);
  } finally {
    await r.cleanup();
  }
});
