import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import type { ProgressState } from "../../src/core/progress.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Lock } from "../../src/repository/lock.js";
import { PackBuilder } from "../../src/repository/pack.js";
import { Repository } from "../../src/repository/repository.js";
import { check } from "../../src/ops/index.js";
import { parseSubset, selectPacks } from "../../src/ops/check-subset.js";
import { backup } from "../../src/snapshot/archiver.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { type Fixture, makeFixture, snapshotFiles } from "./fixture.js";

describe("check on a clean repository", () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.cleanup();
  });

  it("passes the structure check without reading data", async () => {
    const repo = await fx.open();
    const phases = new Set<string>();
    const r = await check(repo, { progress: { update: (s: ProgressState) => phases.add(s.phase), done() {} } });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.ok, true);
    assert.equal(r.snapshotsChecked, 2);
    assert.ok(r.packsChecked > 2, `packs: ${r.packsChecked}`);
    assert.equal(r.packsRead, 0);
    assert.equal(r.bytesRead, 0);
    assert.equal(r.fullRead, false);
    assert.deepEqual(r.stamped, []);
    assert.deepEqual(r.damagedSnapshots, []);
    assert.ok(phases.has("check:packs") && phases.has("check:trees"), [...phases].join(","));
    assert.deepEqual(await repo.listIds("lock"), [], "the shared lock is released");
  });

  for (const subset of ["1/2", "2/2", "50%"]) {
    it(`passes with read-data subset ${subset} and stamps nothing`, async () => {
      const repo = await fx.open();
      const before = await repo.listIds("snapshot");
      const r = await check(repo, { readDataSubset: subset, workers: 2 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.ok, true);
      const all = (await repo.listIds("data")).sort();
      assert.equal(r.packsRead, selectPacks(all, parseSubset(subset)).length);
      if (subset === "50%") assert.equal(r.packsRead, Math.round(all.length / 2));
      assert.deepEqual(r.stamped, []);
      assert.deepEqual(await repo.listIds("snapshot"), before);
    });
  }

  it("reads every pack exactly once across the groups 1/3, 2/3, 3/3", () => {
    const packs = Array.from({ length: 300 }, (_, i) => createHash("sha256").update(String(i)).digest("hex"));
    const groups = ["1/3", "2/3", "3/3"].map((s) => selectPacks(packs, parseSubset(s)));
    assert.deepEqual(groups.flat().sort(), [...packs].sort());
    assert.ok(groups.every((g) => g.length > 0));
  });

  it("refuses a malformed subset with a usage error", async () => {
    const repo = await fx.open();
    for (const bad of ["0/2", "3/2", "1/257", "0%", "101%", "half"]) {
      await assert.rejects(check(repo, { readDataSubset: bad }), (e: unknown) => isCofferError(e, "USAGE"), bad);
    }
  });

  it("with readData verifies every pack and blob, then stamps integrity on every snapshot", async () => {
    const repo = await fx.open();
    const before = new Map<string, Buffer>();
    for (const [p, b] of await snapshotFiles(repo, fx.second)) before.set(p, b);
    const r = await check(repo, { readData: true, workers: 2 });
    assert.deepEqual(r.errors, []);
    assert.equal(r.ok, true);
    assert.equal(r.fullRead, true);
    assert.equal(r.packsRead, r.packsChecked);
    const sizes = new Map<string, number>();
    for await (const f of repo.backend.list("data")) sizes.set(f.name, f.size);
    assert.equal(r.bytesRead, [...sizes.values()].reduce((a, b) => a + b, 0));
    assert.ok(r.blobsRead >= 14, `blobs: ${r.blobsRead}`);

    // Stamped: new files written with `original`, old files removed.
    assert.equal(r.stamped.length, 2);
    const ids = await repo.listIds("snapshot");
    assert.deepEqual(ids, r.stamped.map((s) => s.newId).sort());
    for (const { id, newId } of r.stamped) {
      assert.notEqual(id, newId);
      assert.ok(!ids.includes(id));
      const s = (await repo.loadJson("snapshot", newId)) as Snapshot;
      assert.equal(s.original, id);
      assert.ok(s.integrity && !Number.isNaN(Date.parse(s.integrity.verified_at)));
    }
    const second = r.stamped.find((s) => s.id === fx.second)!.newId;
    assert.deepEqual(await snapshotFiles(repo, second), before, "the data did not change");

    // A second stamping keeps the first id as `original`.
    const again = await check(repo, { readData: true });
    assert.equal(again.ok, true);
    for (const { newId } of again.stamped) {
      const s = (await repo.loadJson("snapshot", newId)) as Snapshot;
      assert.ok(s.original === fx.first || s.original === fx.second);
    }
  });

  it("does not stamp when stampIntegrity is false", async () => {
    const repo = await fx.open();
    const before = await repo.listIds("snapshot");
    const r = await check(repo, { readData: true, stampIntegrity: false });
    assert.equal(r.ok, true);
    assert.deepEqual(r.stamped, []);
    assert.deepEqual(await repo.listIds("snapshot"), before);
  });

  it("warns about an unreferenced pack and still passes", async () => {
    const repo = await fx.open();
    const b = new PackBuilder();
    const plain = Buffer.from("orphan blob from an interrupted backup");
    const enc = repo.encodeBlob(plain);
    b.add("data", repo.blobId(plain), enc.stored, enc.rawLength, enc.compressed);
    const p = b.finish(repo.crypter, repo.packHash);
    await repo.savePack(p.id, p.bytes);
    try {
      const r = await check(repo, { readData: true, stampIntegrity: false });
      assert.equal(r.ok, true);
      assert.deepEqual(r.errors, []);
      assert.equal(r.warnings.length, 1);
      assert.equal(r.warnings[0]?.kind, "pack");
      assert.equal(r.warnings[0]?.id, p.id);
      assert.match(r.warnings[0]?.message ?? "", /unreferenced pack; prune removes it/);
    } finally {
      await repo.backend.remove({ type: "data", name: p.id });
    }
  });

  it("waits for no one with a shared lock but fails on an exclusive one", async () => {
    const repo = await fx.open();
    const shared = await Lock.acquire(repo, { exclusive: false });
    try {
      assert.equal((await check(repo, {})).ok, true);
    } finally {
      await shared.release();
    }
    const excl = await Lock.acquire(repo, { exclusive: true });
    try {
      await assert.rejects(check(repo, {}), (e: unknown) => isCofferError(e, "LOCKED"));
    } finally {
      await excl.release();
    }
  });

  it("stops with INTERRUPTED when its signal is aborted", async () => {
    const repo = await fx.open();
    await assert.rejects(check(repo, { readData: true, signal: AbortSignal.abort() }), (e: unknown) => isCofferError(e, "INTERRUPTED"));
    assert.deepEqual(await repo.listIds("lock"), []);
  });
});

describe("check on other repositories", () => {
  it("passes on an empty repository", async () => {
    const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
    const r = await check(repo, { readData: true });
    assert.equal(r.ok, true);
    assert.equal(r.packsChecked, 0);
    assert.equal(r.snapshotsChecked, 0);
  });

  it("passes on an unencrypted repository, with and without reading data", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "coffer-check-none-"));
    try {
      await writeFile(join(dir, "a.txt"), "hello ".repeat(10_000));
      const repo = await Repository.init(new MemoryBackend(), { encryption: "none" });
      await backup(repo, { paths: [dir], workers: 1 });
      assert.equal((await check(repo, {})).ok, true);
      const r = await check(repo, { readData: true, workers: 1 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.packsRead, r.packsChecked);
      assert.equal(r.stamped.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
