import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { wrapBackend } from "../../src/backend/open.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { check } from "../../src/ops/check.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { restore } from "../../src/snapshot/restorer.js";
import { FaultyBackend } from "../helpers/faulty-backend.js";
import { assertOneSentence, checkRepo, digestTree, initRepo, makeTree, repoFiles, repoTempFiles, restoredDigest, type Sandbox, sandbox, snapshots, writeFile } from "./fault-helpers.js";

/**
 * A disk that fills up during a backup: the backup stops with one clear sentence (NO_SPACE,
 * exit 1) instead of a stack trace or a hang, writes no snapshot, and leaves a repository
 * that passes `check` (packs already written are at most unreferenced) and whose earlier
 * snapshots restore. Once there is space again, the next backup works.
 * First on a real full file system (a 20 MiB tmpfs; needs root), then through FaultyBackend.
 */
function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

describe("backup onto a full disk (tmpfs)", { timeout: 180_000, skip: isRoot() ? false : "mounting a tmpfs needs root" }, () => {
  let sb: Sandbox;
  let mnt: string;
  let mounted = false;
  before(async () => {
    sb = await sandbox("full-disk", { init: false, repoPath: "mnt/repo" });
    mnt = join(sb.dir, "mnt");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=20m,mode=0700", "tmpfs", mnt]);
    mounted = true;
    await initRepo(sb.repo, 4 << 20);
  });
  after(async () => {
    if (mounted) execFileSync("umount", [mnt]);
    await sb.cleanup();
  });

  it("a backup that does not fit: exit 1, one sentence about space, no snapshot; check passes and the earlier snapshot restores", async () => {
    const small = join(sb.src, "small");
    makeTree(small, { small: 60, big: [1 << 20], seed: 1 });
    const r0 = await sb.cli(["backup", sb.src]);
    assert.equal(r0.code, 0, r0.err);
    const [s0] = await snapshots(sb);
    assert.ok(s0);
    const d0 = digestTree(sb.src);

    makeTree(join(sb.src, "large"), { small: 20, big: [12 << 20, 12 << 20], seed: 2 });
    const r = await sb.cli(["backup", sb.src]);
    assert.equal(r.code, 1, `exit code\n${r.err}`);
    const line = assertOneSentence(r.err);
    assert.match(line, /no space/i, line);
    assert.deepEqual((await snapshots(sb)).map((s) => s.id), [s0.id], "no snapshot was saved");
    assert.deepEqual(repoFiles(sb.repo).filter((l) => l.startsWith("locks/")), [], "no lock is left");
    assert.deepEqual(repoTempFiles(sb.repo), [], "no temp file is left (they would keep the disk full)");

    const c = await checkRepo(sb);
    assert.equal(c.code, 0, c.text);
    assert.deepEqual(await restoredDigest(sb, s0.id, sb.src, "s0"), d0);

    // Space again: the next backup works.
    rmSync(join(sb.src, "large"), { recursive: true });
    writeFile(join(sb.src, "small", "after.txt"), "written after the disk was full\n");
    const r2 = await sb.cli(["backup", sb.src]);
    assert.equal(r2.code, 0, r2.err);
    const all = await snapshots(sb);
    assert.equal(all.length, 2);
    assert.deepEqual(await restoredDigest(sb, all[1]!.id, sb.src, "s1"), digestTree(sb.src));
    const c2 = await checkRepo(sb);
    assert.equal(c2.code, 0, c2.text);
  });
});

describe("backup onto a full backend (FaultyBackend spaceBytes)", { timeout: 120_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("full-backend", { init: false });
  });
  after(() => sb.cleanup());

  it("rejects with NO_SPACE, writes no snapshot; check passes, the earlier snapshot restores, and with space the next backup works", async () => {
    const faulty = new FaultyBackend(new MemoryBackend());
    const backend = wrapBackend(faulty);
    await (await Repository.init(backend, { password: "pw", kdf: TEST_KDF, packSize: 1 << 20 })).close();
    const open = () => Repository.open(backend, { password: "pw" });

    makeTree(join(sb.src, "small"), { small: 50, big: [1 << 20], seed: 1 });
    let repo = await open();
    const s0 = (await backup(repo, { paths: [sb.src], workers: 2 })).snapshot!;
    await repo.close();
    const d0 = digestTree(sb.src);

    writeFile(join(sb.src, "large.bin"), randomBytes(10 << 20));
    faulty.faults.spaceBytes = faulty.savedBytes + (3 << 20) + (512 << 10);
    repo = await open();
    await assert.rejects(
      backup(repo, { paths: [sb.src], workers: 2 }),
      (err: unknown) => isCofferError(err, "NO_SPACE") && /space/i.test((err as Error).message),
    );
    await repo.close();

    repo = await open();
    const snaps = await repo.listIds("snapshot");
    assert.deepEqual(snaps, [s0.id], "no snapshot was saved");
    assert.deepEqual(await repo.listIds("lock"), [], "no lock is left");
    const c = await check(repo, { readData: true, stampIntegrity: false, workers: 2 });
    assert.equal(c.ok, true, JSON.stringify(c.errors));
    const target = join(sb.dir, "restore-s0");
    const res = await restore(repo, { snapshot: s0, target, workers: 2 });
    assert.deepEqual(res.errors, []);
    assert.deepEqual(digestTree(join(target, sb.src), (rel) => rel === "large.bin"), d0);
    await repo.close();

    faulty.faults.spaceBytes = undefined;
    repo = await open();
    const s1 = (await backup(repo, { paths: [sb.src], workers: 2 })).snapshot!;
    const target1 = join(sb.dir, "restore-s1");
    assert.deepEqual((await restore(repo, { snapshot: s1, target: target1, workers: 2 })).errors, []);
    assert.deepEqual(digestTree(join(target1, sb.src)), digestTree(sb.src));
    const c1 = await check(repo, { readData: true, stampIntegrity: false, workers: 2 });
    assert.equal(c1.ok, true, JSON.stringify(c1.errors));
    await repo.close();
  });
});
