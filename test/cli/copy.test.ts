import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { Repository } from "../../src/repository/repository.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { assertOneSentence, checkRepo, initRepo, makeTree, PASSWORD, repoNames, restoredDigest, type Sandbox, sandbox, sleep } from "../faults/fault-helpers.js";

/**
 * `coffer copy` between two local repositories with small packs (4 KiB: about one blob a
 * pack, so PackSaver writes a checkpoint index every 32 packs). The copy is killed with
 * SIGKILL once a checkpoint has arrived; the re-run sends exactly the blobs the target's index
 * did not hold yet, both repositories check out and every copied snapshot restores byte-exact.
 */
describe("coffer copy", { timeout: 120_000 }, () => {
  let a: Sandbox;
  let b: string;
  let first: string;
  let second: string;
  const env = (): Record<string, string> => ({ ...a.env, COFFER_FROM_PASSWORD: PASSWORD });
  const copyArgs = (...more: string[]): string[] => ["--json", "copy", "--from-repo", a.repo, "--to-repo", b, ...more];
  const openB = (): Promise<Repository> => Repository.open(new LocalBackend(b), { password: PASSWORD });

  before(async () => {
    a = await sandbox("copy", { packSize: 4096 });
    b = join(a.dir, "target");
    makeTree(join(a.src, "one"), { small: 220, big: [], seed: 1 });
    const r1 = await a.cli(["--json", "backup", a.src, "--tag", "first"]);
    assert.equal(r1.code, 0, r1.err);
    makeTree(join(a.src, "two"), { small: 80, big: [], seed: 2 });
    const r2 = await a.cli(["--json", "backup", a.src, "--tag", "second"]);
    assert.equal(r2.code, 0, r2.err);
    const snaps = await listSnapshots(await a.open());
    first = snaps[0]?.id ?? "";
    second = snaps[1]?.id ?? "";
    const init = await a.cli(["-r", b, "init", "--copy-params-from", a.repo], { env: env() });
    assert.equal(init.code, 0, init.err);
  });
  after(() => a.cleanup());

  it("refuses a target that does not share the source's parameters, in one sentence naming init --copy-params-from", async () => {
    const other = join(a.dir, "other");
    await initRepo(other);
    const r = await a.cli(["copy", "--from-repo", a.repo, "--to-repo", other], { env: env() });
    assert.equal(r.code, 2, r.err);
    assert.match(assertOneSentence(r.err), /init .*--copy-params-from/);
  });

  it("--dry-run lists what would be copied and writes nothing", async () => {
    const r = await a.cli(copyArgs("--dry-run"), { env: env() });
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { copied: { from: string }[]; blobs_added: number };
    assert.deepEqual(out.copied.map((c) => c.from), [first, second]);
    assert.ok(out.blobs_added > 290);
    assert.deepEqual(repoNames(b, "snapshots"), []);
    assert.deepEqual(repoNames(b, "data"), []);
    const only = await a.cli(copyArgs("--dry-run", "--tag", "second"), { env: env() });
    assert.equal(only.code, 0, only.err);
    assert.deepEqual((JSON.parse(only.out) as { copied: { from: string }[] }).copied.map((c) => c.from), [second]);
  });

  it("killed once a checkpoint index arrived, the re-run sends only what is missing; both repositories check out and every copy restores exactly", async () => {
    const child = a.spawn(copyArgs(), { env: env() });
    const deadline = Date.now() + 30_000;
    while (repoNames(b, "index").length === 0 && Date.now() < deadline) await sleep(5);
    child.child.kill("SIGKILL");
    const killed = await child.done;
    assert.equal(killed.signal, "SIGKILL", `the copy finished before the kill:\n${killed.err}`);
    const repoAfterKill = await openB();
    await repoAfterKill.loadIndex();
    const arrived = repoAfterKill.index.size;
    assert.ok(arrived > 0, "a checkpoint index arrived before the kill");
    assert.ok((await listSnapshots(repoAfterKill)).length < 2);
    await repoAfterKill.close();

    const r = await a.cli(copyArgs(), { env: env() });
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { copied: { from: string; to: string; original: string }[]; blobs_added: number; blobs_present: number };
    const final = await openB();
    await final.loadIndex();
    assert.equal(out.blobs_added, final.index.size - arrived, "blobs indexed before the kill were sent again");
    const copies = await listSnapshots(final);
    await final.close();
    assert.deepEqual(copies.map((s) => s.original).sort(), [first, second].sort());
    assert.deepEqual(copies.map((s) => s.tags[0]), ["first", "second"]);

    const tb = { ...a, repo: b };
    const ca = await checkRepo(a);
    assert.equal(ca.code, 0, ca.text);
    const cb = await checkRepo(tb, { readData: true });
    assert.equal(cb.code, 0, cb.text);
    // check stamps snapshots (a rewrite: new ids, the same original), so look them up again.
    const sources = await listSnapshots(await a.open());
    const checked = await listSnapshots(await openB());
    assert.deepEqual(checked.map((s) => s.original), copies.map((s) => s.original));
    for (const [i, c] of checked.entries()) {
      const src = sources.find((s) => (s.original ?? s.id) === c.original);
      assert.ok(src, `the source of copy ${c.id.slice(0, 8)}`);
      const want = await restoredDigest(a, src.id, a.src, `a${i}`);
      const got = await restoredDigest(tb, c.id, a.src, `b${i}`);
      assert.ok(Object.keys(want).length > 180);
      assert.deepEqual(got, want, `snapshot ${c.id.slice(0, 8)} restores as its source ${src.id.slice(0, 8)}`);
    }

    const again = await a.cli(copyArgs(), { env: env() });
    assert.equal(again.code, 0, again.err);
    const none = JSON.parse(again.out) as { copied: unknown[]; skipped: number; blobs_added: number; warnings: unknown[] };
    assert.deepEqual([none.copied.length, none.skipped, none.blobs_added], [0, 2, 0]);
    assert.deepEqual(none.warnings, [], "a --json copy lists its warnings (none here)");
  });
});
