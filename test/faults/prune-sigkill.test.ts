import assert from "node:assert/strict";
import { cp, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { Repository } from "../../src/repository/repository.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { checkRepo, digestTree, killAt, makeTree, PASSWORD, repoNames, restoredDigest, type Sandbox, sandbox, snapshotDigest, spawnCli, textBytes, writeFile } from "./fault-helpers.js";

/**
 * `coffer prune` killed with SIGKILL at many points (before node starts, while it marks,
 * repacks, writes the new index, deletes old index files and packs) never costs a snapshot
 * any data. Every round starts from a copy of the same repository (three snapshots, the
 * first forgotten, so prune deletes packs and repacks others with --max-unused 0%), so the
 * kills land in different phases. After each kill: `check` passes (leftovers are at most
 * superseded index files and unreferenced packs: warnings), both remaining snapshots read back
 * exactly as they were backed up, and a second prune finishes the job; then `check
 * --read-data` passes and a third prune has nothing to do. At the end both snapshots are
 * restored from the pruned repository.
 *
 * Kill points: 30 ms after the spawn, then evenly over the calibrated duration of a whole
 * prune, then the moment its new index file appears (after the repack, before any deletion),
 * and the moment the first old index file is gone (deleting).
 */
const KILLS = 7;

type Digest = Record<string, string>;

const firstId = (s: SnapshotWithId): string => s.original ?? s.id;

describe("prune killed with SIGKILL", { timeout: 600_000 }, () => {
  let sb: Sandbox;
  let template: string;
  const expected = new Map<string, Digest>();
  before(async () => {
    sb = await sandbox("prune-kill", { packSize: 256 * 1024 });
    template = join(sb.dir, "template");
    makeTree(sb.src, { small: 500, big: [3 << 20, 2 << 20, 3 << 20], seed: 1 });
    const first = await sb.cli(["backup", sb.src]);
    assert.equal(first.code, 0, first.err);
    // The second and third snapshots drop some files of the first and add others.
    for (let round = 2; round <= 3; round++) {
      writeFile(join(sb.src, `big-1-${round - 2}.bin`), textBytes(1 << 20, round));
      for (let i = round; i < 500; i += 5) writeFile(join(sb.src, `d${i % 7}`, `s${(i >> 3) % 5}`, `f1-${i}.${i % 2 ? "bin" : "txt"}`), `round ${round}\n`);
      makeTree(join(sb.src, `new-${round}`), { small: 100, big: [1 << 20], seed: round });
      const r = await sb.cli(["--json", "backup", sb.src]);
      assert.equal(r.code, 0, r.err);
      expected.set((JSON.parse(r.out) as { snapshot_id: string }).snapshot_id, digestTree(sb.src));
    }
    const repo = await sb.open();
    const all = await listSnapshots(repo);
    await repo.close();
    const forget = await sb.cli(["forget", (all[0] as SnapshotWithId).id]);
    assert.equal(forget.code, 0, forget.err);
    await cp(sb.repo, template, { recursive: true });
  });
  after(() => sb.cleanup());

  /** A fresh copy of the repository, as it was before any prune. */
  async function copy(name: string): Promise<{ repo: string; open: () => Promise<Repository> }> {
    const repo = join(sb.dir, name);
    await rm(repo, { recursive: true, force: true });
    await cp(template, repo, { recursive: true });
    return { repo, open: () => Repository.open(new LocalBackend(repo), { password: PASSWORD }) };
  }

  async function snapshotsIntact(what: string, open: () => Promise<Repository>): Promise<void> {
    const repo = await open();
    try {
      await repo.loadIndex();
      const all = await listSnapshots(repo);
      // A full data check stamps integrity on snapshots, which changes their ids: `original` stays.
      assert.deepEqual(all.map(firstId).sort(), [...expected.keys()].sort(), `${what}: both snapshots are there`);
      const memo = new Map<string, string>(); // per call: every blob is read again after each kill
      for (const s of all) assert.deepEqual(await snapshotDigest(repo, s, sb.src, memo), expected.get(firstId(s)), `${what}: snapshot ${s.id.slice(0, 8)} reads back as backed up`);
    } finally {
      await repo.close();
    }
  }

  const prune = (repo: string) => spawnCli(["-r", repo, "--json", "prune", "--max-unused", "0%"], { env: sb.env, cwd: sb.dir });

  it(`${KILLS} kills at different points: check passes, no snapshot lost data, the next prune finishes`, async (t) => {
    const calib = await copy("calibration");
    const full = await prune(calib.repo).done;
    assert.equal(full.code, 0, full.err);
    const plan = JSON.parse(full.out) as { removed_packs: string[]; repacked_packs: string[]; bytes_freed: number };
    assert.ok(plan.removed_packs.length > 0 && plan.repacked_packs.length > 0, "prune has packs to delete and to repack");
    const fullMs = full.ms;
    await rm(calib.repo, { recursive: true, force: true });

    let killed = 0;
    let afterIndex = 0;
    for (let round = 1; round <= KILLS; round++) {
      const c = await copy(`round-${round}`);
      const indexBefore = new Set(repoNames(c.repo, "index"));
      const atIndex = round === KILLS - 1;
      const atDelete = round === KILLS;
      const delay = round === 1 ? 30 : Math.round((fullMs * (round - 1)) / (KILLS - 2));
      const r = await killAt(
        prune(c.repo),
        atIndex
          ? { until: () => repoNames(c.repo, "index").filter((i) => !indexBefore.has(i)).length >= 2 }
          : atDelete
            ? { until: () => ![...indexBefore].every((i) => repoNames(c.repo, "index").includes(i)) }
            : delay,
      );
      const what = atIndex ? `round ${round} (kill when the new index appears)` : atDelete ? `round ${round} (kill when deleting)` : `round ${round} (kill after ${delay} ms)`;
      if (r.signal === "SIGKILL") killed++;
      else assert.equal(r.code, 0, `${what}: finished before the kill, and succeeded: ${r.err}`);
      if (r.signal === "SIGKILL" && repoNames(c.repo, "index").some((i) => !indexBefore.has(i))) afterIndex++;

      const sbc = { repo: c.repo, env: sb.env, dir: sb.dir, open: c.open };
      const checked = await checkRepo(sbc);
      assert.equal(checked.code, 0, `${what}: check:\n${checked.text}`);
      await snapshotsIntact(what, c.open);

      const second = await prune(c.repo).done;
      assert.equal(second.code, 0, `${what}: the next prune: ${second.err}`);
      const readData = await checkRepo(sbc, { readData: true });
      assert.equal(readData.code, 0, `${what}: check --read-data:\n${readData.text}`);
      assert.doesNotMatch(readData.text, /unreferenced|superseded/, `${what}: nothing is left over`);
      // check --read-data proved every blob the snapshots reach is there and matches its id
      // (an HMAC of its content); the bytes were compared after the kill, and at the end.
      const third = await prune(c.repo).done;
      assert.equal((JSON.parse(third.out) as { nothing_to_do: boolean }).nothing_to_do, true, `${what}: then there is nothing to do`);
      await rm(c.repo, { recursive: true, force: true });
    }
    assert.ok(killed >= KILLS / 2, `at least half the prunes were killed before they finished (${killed} of ${KILLS})`);
    // The deleting phase lasts a few ms: the watcher may see it too late on a loaded machine.
    assert.ok(afterIndex >= 1, `at least one kill came after the new index was written (${afterIndex})`);

    // At the end, for real: prune the original repository, restore both snapshots.
    const done = await sb.cli(["prune", "--max-unused", "0%"]);
    assert.equal(done.code, 0, done.err);
    const repo = await sb.open();
    const now = await listSnapshots(repo);
    await repo.close();
    for (const s of now) assert.deepEqual(await restoredDigest(sb, s.id, sb.src, s.id.slice(0, 8)), expected.get(firstId(s)), `restore of ${s.id.slice(0, 8)}`);
    assert.equal(now.length, expected.size);
    t.diagnostic(`${killed} of ${KILLS} prunes killed, ${afterIndex} after the new index; a whole prune took ${fullMs} ms`);
  });
});
