import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { prune } from "../../src/ops/prune.js";
import { Lock } from "../../src/repository/lock.js";
import { Repository } from "../../src/repository/repository.js";
import { checkRepo, digestTree, makeTree, PASSWORD, repoNames, restoredDigest, type Sandbox, sandbox, sleep, snapshots } from "./fault-helpers.js";

/**
 * A backup running at the same time as prune is never harmed: backups hold shared locks,
 * prune an exclusive one, so whichever comes second fails with LOCKED (exit 11) before it
 * changes anything, and the one that runs finishes normally. Both directions are tested with
 * real processes: a backup running when `coffer prune` starts, and `coffer backup` started
 * while a prune runs (in this process, slowed down so that it surely still runs).
 */
describe("prune and a concurrent backup", { timeout: 300_000 }, () => {
  let sb: Sandbox;
  const dirs = (name: string): string => join(sb.src, name);
  /** Data and index files, by name. */
  const stored = (): string[] => [...repoNames(sb.repo, "data"), ...repoNames(sb.repo, "index")];

  before(async () => {
    sb = await sandbox("prune-concurrent", { packSize: 512 * 1024 });
    makeTree(dirs("a"), { small: 200, big: [2 << 20], seed: 1 });
    makeTree(dirs("b"), { small: 200, big: [2 << 20], seed: 2 });
    for (const d of ["a", "b"]) {
      const r = await sb.cli(["backup", dirs(d)]);
      assert.equal(r.code, 0, r.err);
    }
  });
  after(() => sb.cleanup());

  /** Forgets the oldest snapshot of a path, so prune has data to delete. */
  async function forgetOldest(path: string): Promise<void> {
    const s = (await snapshots(sb)).find((x) => x.paths.includes(path));
    assert.ok(s, `a snapshot of ${path}`);
    const r = await sb.cli(["forget", s.id]);
    assert.equal(r.code, 0, r.err);
  }

  /** The latest snapshot of each path restores what the path holds. */
  async function everySnapshotRestores(paths: string[]): Promise<void> {
    const all = await snapshots(sb);
    for (const path of paths) {
      const s = all.filter((x) => x.paths.includes(path)).pop();
      assert.ok(s, `a snapshot of ${path}`);
      assert.deepEqual(await restoredDigest(sb, s.id, path, s.id.slice(0, 8)), digestTree(path), `the latest snapshot of ${path} restores`);
    }
  }

  it("prune exits 11 while a backup runs, deleting nothing; the backup completes and restores", async () => {
    await forgetOldest(dirs("a"));
    makeTree(dirs("c"), { small: 300, big: [40 << 20, 30 << 20], seed: 3 });
    const before = new Set(stored());
    const backup = sb.spawn(["backup", dirs("c")]);
    let backupDone = false;
    void backup.done.then(() => (backupDone = true));
    while (repoNames(sb.repo, "locks").length === 0 && !backupDone) await sleep(5);
    assert.equal(backupDone, false, "the backup is still running when prune starts");
    const prune = await sb.cli(["prune"]);
    assert.equal(backupDone, false, "the backup was still running when prune gave up");
    assert.equal(prune.code, 11, `prune: ${prune.err}`);
    assert.match(prune.err, /locked/);
    const after = new Set(stored());
    for (const f of before) assert.ok(after.has(f), `${f} is still there`);

    const b = await backup.done;
    assert.equal(b.code, 0, `the backup: ${b.err}`);
    const c = await checkRepo(sb);
    assert.equal(c.code, 0, c.text);
    await everySnapshotRestores([dirs("b"), dirs("c")]);

    const later = await sb.cli(["--json", "prune"]);
    assert.equal(later.code, 0, later.err);
    assert.ok((JSON.parse(later.out) as { removed_packs: string[] }).removed_packs.length > 0, "then prune deletes the forgotten snapshot's data");
    const full = await checkRepo(sb, { readData: true });
    assert.equal(full.code, 0, full.text);
    await everySnapshotRestores([dirs("b")]);
  });

  it("a backup exits 11 while prune holds its lock, writing nothing", async () => {
    const repo = await sb.open();
    const lock = await Lock.acquire(repo, { exclusive: true });
    try {
      const before = { snaps: repoNames(sb.repo, "snapshots"), files: stored() };
      makeTree(dirs("d"), { small: 50, big: [1 << 20], seed: 4 });
      const r = await sb.cli(["backup", dirs("d")]);
      assert.equal(r.code, 11, r.err);
      assert.match(r.err, /locked by an exclusive lock/);
      assert.deepEqual(repoNames(sb.repo, "snapshots"), before.snaps, "no snapshot");
      assert.deepEqual(stored(), before.files, "no pack, no index file");
      assert.deepEqual(repoNames(sb.repo, "locks"), [lock.id], "the backup's own lock is gone");
    } finally {
      await lock.release();
      await repo.close();
    }
    const r = await sb.cli(["backup", dirs("d")]);
    assert.equal(r.code, 0, r.err);
  });

  it("a backup started while prune runs exits 11 and writes nothing; prune finishes; nothing is harmed", async () => {
    // A snapshot made and forgotten, so that prune has data to delete; prune is slowed down so
    // that it surely holds its lock while the backup starts.
    makeTree(dirs("x"), { small: 30, big: [2 << 20], seed: 20 });
    assert.equal((await sb.cli(["backup", dirs("x")])).code, 0);
    await forgetOldest(dirs("x"));
    makeTree(dirs("e"), { small: 100, big: [3 << 20], seed: 11 });
    const local = new LocalBackend(sb.repo);
    const slow = new Proxy(local, {
      get(t, k) {
        // Prune lists the index files right after it took its lock: it holds the lock 3 s longer.
        if (k === "list") {
          return (type: Parameters<LocalBackend["list"]>[0]) =>
            type !== "index"
              ? t.list(type)
              : (async function* () {
                  await sleep(3000);
                  yield* t.list(type);
                })();
        }
        const v = Reflect.get(t, k) as unknown;
        return typeof v === "function" ? (v as (...x: unknown[]) => unknown).bind(t) : v;
      },
    });
    const repo = await Repository.open(slow, { password: PASSWORD });
    try {
      const snapsBefore = repoNames(sb.repo, "snapshots");
      const running = prune(repo, { maxUnused: "0%" });
      let pruneDone = false;
      void running.then(() => (pruneDone = true), () => (pruneDone = true));
      while (repoNames(sb.repo, "locks").length === 0 && !pruneDone) await sleep(2);
      const b = await sb.cli(["backup", dirs("e")]);
      assert.equal(pruneDone, false, "prune was still running when the backup gave up");
      assert.equal(b.code, 11, b.err);
      assert.match(b.err, /locked by an exclusive lock/);
      const r = await running;
      assert.ok(r.removedPacks.length > 0);
      assert.deepEqual(repoNames(sb.repo, "snapshots"), snapsBefore, "the refused backup saved no snapshot");
      assert.deepEqual(r.newerUnreferencedPacks, 0, "nor any pack");
    } finally {
      await repo.close();
    }
    const again = await sb.cli(["backup", dirs("e")]);
    assert.equal(again.code, 0, again.err);
    const full = await checkRepo(sb, { readData: true });
    assert.equal(full.code, 0, full.text);
    await everySnapshotRestores([dirs("b"), dirs("e")]);
  });
});
