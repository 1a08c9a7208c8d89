import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import type { FileInfo, FileType, Handle, LoadOptions } from "../../src/backend/backend.js";
import { isCofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { prune } from "../../src/ops/prune.js";
import { ensureLocksHeld, Lock, LOCK_STALE_MS, removeLocks } from "../../src/repository/lock.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { CountingBackend } from "../helpers/counting-backend.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { saveSnapshot } from "../../src/snapshot/snapshot-store.js";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A repository whose clock the test moves. */
async function clockedRepo(backend = new MemoryBackend(), encrypted = false, packSize?: number): Promise<{ repo: Repository; advance: (ms: number) => void }> {
  let now = Date.parse("2026-05-01T10:00:00Z");
  const clock = (): Date => new Date(now);
  const common = { clock, ...(packSize ? { packSize } : {}) };
  const repo = await Repository.init(backend, encrypted ? { password: "pw", kdf: TEST_KDF, ...common } : { encryption: "none", ...common });
  return { repo, advance: (ms) => (now += ms) };
}

const snap: Snapshot = { time: "2026-05-01T10:00:00.000Z", hostname: "h", username: "u", paths: ["/srv"], tree: "ab".repeat(32), tags: [], kind: "manual", program: "coffer test" };
const isLost = (e: unknown): boolean => isCofferError(e, "LOCK_LOST");

test("a refresh replaces the lock file and keeps the lock held", async () => {
  const { repo, advance } = await clockedRepo(new MemoryBackend(), true);
  const lock = await Lock.acquire(repo, { exclusive: false });
  const first = lock.id;
  advance(5 * 60_000);
  await lock.refresh();
  assert.notEqual(lock.id, first);
  assert.deepEqual(await repo.listIds("lock"), [lock.id]);
  assert.equal(lock.lost, undefined);
  await saveSnapshot(repo, snap);
  await lock.release();
  assert.deepEqual(await repo.listIds("lock"), []);
});

test("a lock that went stale but is still there is refreshed and still held (the machine slept)", async () => {
  const { repo, advance } = await clockedRepo();
  const lock = await Lock.acquire(repo, { exclusive: false });
  advance(LOCK_STALE_MS + 60_000);
  await ensureLocksHeld(repo);
  assert.equal(lock.lost, undefined);
  assert.equal((await repo.loadJson("lock", lock.id) as { time: string }).time, repo.clock().toISOString(), "refreshed before the commit");
  await lock.release();
});

test("a lock removed by someone else is lost: the refresh fails, the signal aborts, saveSnapshot refuses", async () => {
  for (const encrypted of [false, true]) {
    const { repo, advance } = await clockedRepo(new MemoryBackend(), encrypted);
    const warnings: Warning[] = [];
    const lock = await Lock.acquire(repo, { exclusive: false, onWarning: (w) => warnings.push(w) });
    // Another process finds it stale after 30 minutes without a refresh and removes it.
    advance(LOCK_STALE_MS + 60_000);
    assert.deepEqual(await removeLocks(repo, false), [lock.id]);
    await assert.rejects(lock.refresh(), isLost);
    assert.ok(lock.signal.aborted);
    assert.ok(isLost(lock.signal.reason));
    assert.match(lock.lost?.message ?? "", /lock on the repository was removed by someone else .*last refreshed 31 min ago.*run it again/);
    assert.deepEqual(warnings.map((w) => w.code), ["LOCK_LOST"]);
    await assert.rejects(saveSnapshot(repo, snap), isLost);
    assert.deepEqual(await repo.listIds("snapshot"), [], "no snapshot was written");
    // Lost for good, even though the refresh left a fresh file behind (removed on release).
    await assert.rejects(lock.refresh(), isLost);
    await lock.release();
    assert.deepEqual(await repo.listIds("lock"), []);
    await saveSnapshot(repo, snap); // no lock held any more: nothing to check
  }
});

test("a lock file replaced under the lock's name counts as lost", async () => {
  const backend = new MemoryBackend();
  const { repo, advance } = await clockedRepo(backend);
  const lock = await Lock.acquire(repo, { exclusive: true });
  await backend.save({ type: "lock", name: lock.id }, Buffer.from("{}"));
  advance(60_000);
  await assert.rejects(lock.refresh(), isLost);
  assert.equal(lock.lost?.data["how"], "replaced");
  await lock.release();
});

test("the background refresh notices the removal (short interval, no fixed wait)", async () => {
  const { repo, advance } = await clockedRepo();
  const lock = await Lock.acquire(repo, { exclusive: false, refreshMs: 5 });
  await repo.backend.remove({ type: "lock", name: lock.id });
  advance(60_000);
  // The refresh timer is unref'd (it must never keep a CLI alive), so while this test waits
  // for it, a referenced timer keeps the event loop open; without it the loop could end first.
  const keepAlive = setTimeout(() => undefined, 30_000);
  const [event] = await once(lock.signal, "abort").finally(() => clearTimeout(keepAlive));
  assert.ok(event);
  assert.ok(isLost(lock.signal.reason));
  await assert.rejects(ensureLocksHeld(repo), isLost);
  await lock.release();
});

test("a backup whose lock was removed while it ran (stale after a long stall) saves no snapshot", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-lock-"));
  try {
    await writeFile(join(dir, "a.txt"), "a".repeat(5000));
    const backend = new HookBackend();
    const { repo, advance } = await clockedRepo(backend);
    // On its first pack save the backup "stalls" for 40 minutes, and another process removes its lock as stale.
    backend.beforeSave = async (h) => {
      if (h.type !== "data") return;
      backend.beforeSave = undefined;
      advance(40 * 60_000);
      await removeLocks(repo, false);
    };
    await assert.rejects(backup(repo, { paths: [dir], workers: 1 }), isLost);
    assert.deepEqual(await repo.listIds("snapshot"), []);
    assert.deepEqual(await repo.listIds("lock"), [], "the operation's lock files are gone");
    // The repository is usable: the next backup succeeds.
    const again = await backup(repo, { paths: [dir], workers: 1 });
    assert.ok(again.snapshot);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** What another process does to a lock after a long stall: finds it stale and removes it. This process notices at its next check. */
async function loseLocks(repo: Repository, advance: (ms: number) => void): Promise<void> {
  advance(40 * 60_000);
  await removeLocks(repo, false);
  await assert.rejects(ensureLocksHeld(repo), isLost);
}

/** `dirs` directories of `files` files of `size` random (incompressible) bytes each. */
async function randomTree(root: string, dirs: number, files: number, size: number): Promise<number> {
  for (let d = 0; d < dirs; d++) {
    await mkdir(join(root, `d${String(d).padStart(3, "0")}`));
    for (let f = 0; f < files; f++) await writeFile(join(root, `d${String(d).padStart(3, "0")}`, `f${f}`), randomBytes(size));
  }
  return dirs * files * size;
}

test("a backup whose lock is lost before its walk reads no file and saves no pack", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-lock-"));
  try {
    await randomTree(dir, 4, 20, 1000);
    const backend = new HookBackend();
    const { repo, advance } = await clockedRepo(backend);
    let dataSaves = 0;
    backend.beforeSave = async (h) => void (h.type === "data" && dataSaves++);
    // The backup looks for its parent snapshot after taking its lock: the lock is lost there.
    backend.beforeList = async (type) => {
      if (type !== "snapshot") return;
      backend.beforeList = undefined;
      await loseLocks(repo, advance);
    };
    const warnings: Warning[] = [];
    await assert.rejects(backup(repo, { paths: [dir], workers: 1, onWarning: (w) => warnings.push(w) }), isLost);
    assert.equal(backend.beforeList, undefined, "the hook ran");
    assert.equal(dataSaves, 0, "no file was read into a pack");
    assert.deepEqual(await repo.listIds("snapshot"), []);
    assert.deepEqual(await repo.listIds("index"), []);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ["LOCK_LOST"],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a backup whose lock is lost during its walk stops reading files (not at the snapshot's save)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-lock-"));
  try {
    // 2560 files of 2 KiB in batches of 128 files: the walk runs at most a few batches ahead of the packs saved.
    const total = await randomTree(dir, 40, 64, 2048);
    const backend = new HookBackend();
    const { repo, advance } = await clockedRepo(backend, false, 64 * 1024);
    let packBytes = 0;
    backend.beforeSave = async (h, data) => {
      if (h.type !== "data") return;
      if (packBytes === 0) await loseLocks(repo, advance);
      packBytes += data.byteLength;
    };
    await assert.rejects(backup(repo, { paths: [dir], workers: 1 }), isLost);
    assert.ok(packBytes > 0, "the hook ran");
    assert.ok(packBytes < total / 2, `the walk stopped early: ${packBytes} of ${total} bytes were packed`);
    assert.deepEqual(await repo.listIds("snapshot"), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("prune whose lock is lost while it reads the snapshots reads no tree and writes nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-lock-"));
  try {
    await randomTree(dir, 3, 3, 100);
    const backend = new HookBackend();
    const { repo, advance } = await clockedRepo(backend);
    await backup(repo, { paths: [dir], workers: 1 });
    const indexBefore = await repo.listIds("index");
    let loadsAfter = 0;
    let lost = false;
    backend.beforeLoad = async (h) => void (lost && h.type === "data" && loadsAfter++);
    backend.beforeList = async (type) => {
      if (type !== "snapshot") return;
      backend.beforeList = undefined;
      await loseLocks(repo, advance);
      lost = true;
    };
    await assert.rejects(prune(repo, { repackSmall: true }), isLost);
    assert.ok(lost, "the hook ran");
    assert.equal(loadsAfter, 0, "no tree pack was read after the lock was lost");
    assert.deepEqual(await repo.listIds("index"), indexBefore);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("prune deletes nothing when its exclusive lock was removed", async () => {
  const backend = new HookBackend();
  const { repo, advance } = await clockedRepo(backend);
  // An unreferenced pack older than prune's lock: prune would delete it.
  await repo.backend.save({ type: "data", name: "ee".repeat(32) }, Buffer.from("left by a killed backup"));
  // While prune reads the snapshots, its lock is removed (unlock --remove-all).
  backend.beforeList = async (type) => {
    if (type !== "snapshot") return;
    backend.beforeList = undefined;
    advance(LOCK_STALE_MS + 60_000);
    await removeLocks(repo, true);
  };
  await assert.rejects(prune(repo), isLost);
  assert.equal(backend.beforeList, undefined, "the hook ran");
  assert.deepEqual(await repo.listIds("data"), ["ee".repeat(32)], "nothing was deleted");
  // Without the interference, the same prune deletes it.
  await prune(repo);
  assert.deepEqual(await repo.listIds("data"), []);
});

/** A memory backend that runs a hook before saves, loads or listings. */
class HookBackend extends MemoryBackend {
  beforeSave: ((h: Handle, data: Uint8Array) => Promise<void>) | undefined;
  beforeLoad: ((h: Handle) => Promise<void>) | undefined;
  beforeList: ((type: FileType) => Promise<void>) | undefined;
  override async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.beforeSave?.(h, data);
    return super.save(h, data);
  }
  override async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    await this.beforeLoad?.(h);
    return super.load(h, opts);
  }
  override async *list(type: FileType): AsyncIterable<FileInfo> {
    await this.beforeList?.(type);
    yield* super.list(type);
  }
}

test("taking a lock reads only the other locks back, never its own file", async () => {
  const counting = new CountingBackend(new MemoryBackend());
  const repo = await Repository.init(counting, { encryption: "none" });
  const alone = await Lock.acquire(repo, { exclusive: false });
  assert.equal(counting.loads.lock, 0);
  await alone.release();
  await repo.saveJson("lock", { time: new Date().toISOString(), hostname: "elsewhere", pid: 4242, exclusive: false, username: "u" });
  const beside = await Lock.acquire(repo, { exclusive: false });
  assert.equal(counting.loads.lock, 1, "the other host's lock, checked for a conflict");
  await beside.release();
});
