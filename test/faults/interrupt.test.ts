import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkRepo, digestTree, makeTree, repoNames, repoTempFiles, restoredDigest, type Sandbox, sandbox, sleep, snapshots } from "./fault-helpers.js";

/**
 * SIGINT during a backup: exit 130, no snapshot is saved (a script must not take an
 * interrupted backup for a complete one), the repository passes `check` (the packs already
 * written are at most unreferenced), earlier snapshots still restore, and the next backup
 * works. The signal is sent once the first pack is in the repository (1 MiB packs), so the
 * backup is surely under way. Two shapes of data: many small files (the walk is still
 * running when the signal comes) and a few large files (the walk has long finished and
 * only the workers are busy).
 */
const shapes: [string, { small: number; big: number[] }][] = [
  ["many small files and some large ones", { small: 1500, big: [6 << 20, 4 << 20] }],
  ["a few large files", { small: 0, big: [12 << 20, 10 << 20, 12 << 20] }],
];

describe("SIGINT during a backup", { timeout: 240_000 }, () => {
  const boxes: Sandbox[] = [];
  after(async () => {
    for (const b of boxes) await b.cleanup();
  });

  for (const [name, shape] of shapes) {
    it(`${name}: exit 130, no snapshot, check passes, the next backup works`, async () => {
      const sb = await sandbox("interrupt", { packSize: 1 << 20 });
      boxes.push(sb);
      const first = join(sb.src, "first");
      makeTree(first, { small: 40, big: [1 << 20], seed: 7 });
      const r0 = await sb.cli(["backup", sb.src]);
      assert.equal(r0.code, 0, r0.err);
      const [s0] = await snapshots(sb);
      assert.ok(s0);
      const d0 = digestTree(sb.src);

      makeTree(join(sb.src, "more"), { ...shape, seed: 8 });
      const packsBefore = new Set(repoNames(sb.repo, "data"));
      const child = sb.spawn(["backup", sb.src]);
      let exited = false;
      void child.done.then(() => (exited = true));
      const deadline = Date.now() + 60_000;
      while (!exited && !repoNames(sb.repo, "data").some((p) => !packsBefore.has(p))) {
        assert.ok(Date.now() < deadline, "the backup writes a pack within a minute");
        await sleep(10);
      }
      assert.ok(!exited, `the backup was still running when its first pack appeared:\n${child.err()}`);
      child.child.kill("SIGINT");
      const r = await child.done;

      assert.equal(r.code, 130, `exit code\n${r.err}\n${r.out}`);
      assert.match(r.err, /interrupted/);
      assert.ok(!r.err.split("\n").some((l) => /^\s+at /.test(l)), `no stack trace:\n${r.err}`);
      const after1 = await snapshots(sb);
      assert.deepEqual(
        after1.map((s) => s.id),
        [s0.id],
        "no snapshot is saved by an interrupted backup",
      );
      assert.deepEqual(repoNames(sb.repo, "locks"), [], "the interrupted backup removed its lock");
      assert.deepEqual(repoTempFiles(sb.repo), [], "the interrupted backup removed its temp files (packs being written)");

      const c = await checkRepo(sb);
      assert.equal(c.code, 0, c.text);
      assert.deepEqual(await restoredDigest(sb, s0.id, sb.src, "s0"), d0);

      const r2 = await sb.cli(["backup", sb.src]);
      assert.equal(r2.code, 0, r2.err);
      const all = await snapshots(sb);
      const last = all[all.length - 1];
      assert.ok(last && last.id !== s0.id);
      assert.deepEqual(await restoredDigest(sb, last.id, sb.src, "s1"), digestTree(sb.src));
      const c2 = await checkRepo(sb);
      assert.equal(c2.code, 0, c2.text);
    });
  }
});
