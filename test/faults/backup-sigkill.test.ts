import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { checkRepo, digestTree, killAt, makeTree, repoNames, repoTempFiles, restoredDigest, type Sandbox, sandbox, snapshotDigest, textBytes, writeFile } from "./fault-helpers.js";

/**
 * `coffer backup` killed with SIGKILL at many points (before it opens the repository, while
 * it walks, packs, uploads, writes the index) never harms the repository. After each kill:
 * `check` passes (packs of the killed run are at most unreferenced: warnings), every earlier
 * snapshot still reads back byte-exact, and a following backup succeeds — the killed
 * process's lock does not block it (its pid is gone on this host, so the lock is stale).
 *
 * Kill points: 50 ms after the spawn (before node has started), then evenly spread over the
 * time a whole run takes (calibrated first), and last, the moment a checkpoint index appears
 * (small 512 KiB packs; one is written every 32 packs): the following backup must then reuse
 * the checkpointed packs instead of writing their data again.
 *
 * Restoring every earlier snapshot after each of the eight kills with `restore()` would cost
 * minutes, so after each kill they are read through the repository instead (every tree and
 * data blob they reach loaded and verified against its id, every file's bytes hashed —
 * memoised by content list — and compared with what was backed up: the same facts a restore
 * plus `check --read-data` of the reachable packs would give); at the end the first snapshot
 * is restored with `restore()`.
 */
const KILLS = 8;

type Digest = Record<string, string>;

describe("backup killed with SIGKILL", { timeout: 300_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("sigkill", { packSize: 512 * 1024 });
  });
  after(() => sb.cleanup());

  it(`${KILLS} kills at different points: check passes, earlier snapshots read back exactly, the next backup succeeds`, async (t) => {
    const testStart = Date.now();
    const spent: Record<string, number> = {};
    const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      try {
        return await fn();
      } finally {
        spent[label] = (spent[label] ?? 0) + Date.now() - t0;
      }
    };
    // ~60 MiB: 1500 small files and six multi-MiB random files.
    makeTree(sb.src, { small: 1500, big: [8 << 20, 6 << 20, 10 << 20, 4 << 20, 5 << 20, 7 << 20], seed: 1 });
    const first = await sb.cli(["backup", sb.src]);
    assert.equal(first.code, 0, first.err);

    const expected = new Map<string, Digest>();
    const memo = new Map<string, string>();
    const hashes = new Map<string, string>();
    const known = async (): Promise<SnapshotWithId[]> => {
      const repo = await sb.open();
      try {
        return await listSnapshots(repo);
      } finally {
        await repo.close();
      }
    };
    const [s0] = await known();
    assert.ok(s0);
    expected.set(s0.id, digestTree(sb.src, undefined, hashes));

    // Each round changes the data like this, and its backup reads everything again (--force).
    const change = (round: number): void => {
      writeFile(join(sb.src, `big-1-${round % 6}.bin`), randomBytes((3 + (round % 4)) << 20));
      writeFile(join(sb.src, `round-${round}`, "new-a.bin"), randomBytes(1 << 20));
      writeFile(join(sb.src, `round-${round}`, "new-b.txt"), textBytes(700_000, round));
      for (let i = 0; i < 20; i++) writeFile(join(sb.src, `d${i % 7}`, `s${i % 5}`, `changed-${i}.txt`), `round ${round} file ${i}\n`);
    };
    // Calibration: how long such a backup takes when nothing stops it.
    change(0);
    const calibration = await sb.cli(["backup", "--force", sb.src]);
    assert.equal(calibration.code, 0, calibration.err);
    const fullMs = calibration.ms;
    for (const s of await known()) if (!expected.has(s.id)) expected.set(s.id, digestTree(sb.src, undefined, hashes));

    /** Every snapshot is there and reads back as it was backed up. */
    const readBack = async (what: string): Promise<void> => {
      const repo = await sb.open();
      try {
        await repo.loadIndex();
        const all = await listSnapshots(repo);
        assert.equal(all.length, expected.size, `${what}: every snapshot is there`);
        for (const s of all) {
          const want = expected.get(s.id);
          assert.ok(want, `${what}: snapshot ${s.id.slice(0, 8)} is one we made`);
          assert.deepEqual(await snapshotDigest(repo, s, sb.src, memo), want, `${what}: snapshot ${s.id.slice(0, 8)} reads back as it was backed up`);
        }
      } finally {
        await repo.close();
      }
    };

    let killed = 0;
    let locksLeft = 0;
    let checkpoints = 0;
    for (let round = 1; round <= KILLS; round++) {
      change(round);
      const checkpointRound = round === KILLS;
      // The last round adds 40 MiB (40 packs) and is killed as soon as the checkpoint index
      // (written every 32 packs) appears, so the following backup must reuse those packs.
      if (checkpointRound) for (let i = 0; i < 5; i++) writeFile(join(sb.src, "burst", `b${i}.bin`), randomBytes(8 << 20));
      const now = digestTree(sb.src, undefined, hashes);
      // 50 ms (node has not started yet), then evenly up to the calibrated duration.
      const delay = round === 1 ? 50 : Math.round((fullMs * (round - 1)) / (KILLS - 1));
      const indexBefore = new Set(repoNames(sb.repo, "index"));
      const r = await killAt(sb.spawn(["backup", "--force", sb.src]), checkpointRound ? { until: () => repoNames(sb.repo, "index").some((i) => !indexBefore.has(i)), pollMs: 5 } : delay);
      const what = checkpointRound ? `round ${round} (kill at the checkpoint index)` : `round ${round} (kill after ${delay} ms)`;
      if (checkpointRound) assert.equal(r.signal, "SIGKILL", `${what}: killed before it finished:\n${r.err}`);
      if (r.signal === "SIGKILL") killed++;
      else assert.equal(r.code, 0, `${what}: the backup finished before the kill, and succeeded:\n${r.err}`);
      if (repoNames(sb.repo, "locks").length > 0) locksLeft++;
      const snapsAfterKill = await known();
      if (r.signal === "SIGKILL") {
        // Killed before it saved a snapshot, or just after: either is whole.
        assert.ok(snapsAfterKill.length === expected.size || snapsAfterKill.length === expected.size + 1, `${what}: snapshots ${snapsAfterKill.length}`);
        if (repoNames(sb.repo, "index").some((i) => !indexBefore.has(i))) checkpoints++;
      }
      for (const s of snapsAfterKill) if (!expected.has(s.id)) expected.set(s.id, now);

      // Odd rounds: the CLI backup meets the dead process's lock first; even rounds: check does.
      const following = async (): Promise<void> => {
        const f = await sb.cli(["--json", "backup", sb.src]);
        assert.equal(f.code, 0, `${what}: the following backup: ${f.err}`);
        if (checkpointRound) {
          const added = (JSON.parse(f.out) as { summary: { bytes_added: number } }).summary.bytes_added;
          assert.ok(added < 20 << 20, `${what}: the following backup reused the checkpointed packs (it added ${added} bytes of the 40 MiB)`);
        }
        const all = await known();
        const fresh = all.filter((s) => !expected.has(s.id));
        assert.equal(fresh.length, 1, `${what}: the following backup saved one snapshot`);
        expected.set(fresh[0]!.id, now);
      };
      if (round % 2 === 1) await timed("following backups", following);
      const c = await timed("checks", () => checkRepo(sb));
      assert.equal(c.code, 0, `${what}: check:\n${c.text}`);
      if (round % 2 === 0) await timed("following backups", following);
      assert.deepEqual(repoNames(sb.repo, "locks"), [], `${what}: no lock is left (the stale one was removed)`);

      await timed("reading snapshots back", () => readBack(what));
    }
    assert.ok(killed >= KILLS / 2, `at least half the backups were killed before they finished (${killed} of ${KILLS})`);
    assert.ok(checkpoints >= 1, "the last kill left a checkpoint index behind");
    assert.ok(locksLeft >= 2, `several kills left a lock behind for the next run to find stale (${locksLeft})`);

    // At the end: the first snapshot, made before any kill, restored for real.
    const s0Id = [...expected.keys()][0] as string;
    assert.deepEqual(await timed("restore", () => restoredDigest(sb, s0Id, sb.src, "s0")), expected.get(s0Id), "restore of the first snapshot");
    t.diagnostic(`time spent (ms): ${JSON.stringify(spent)}`);
    t.diagnostic(`${repoTempFiles(sb.repo).length} temp files of killed saves are left in the repository`);
    t.diagnostic(`${killed} of ${KILLS} runs killed; ${locksLeft} left a lock; ${checkpoints} left an index file (checkpoint) behind; a whole --force backup took ${fullMs} ms; the test ${Date.now() - testStart} ms`);
  });
});
