import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { LocalBackend } from "../../src/backend/local.js";
import { CofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { check } from "../../src/ops/check.js";
import { forget } from "../../src/ops/forget.js";
import { prune } from "../../src/ops/prune.js";
import { maxUnusedLimit } from "../../src/ops/prune-plan.js";
import { buildIndexFile } from "../../src/repository/index-file.js";
import { Lock, removeLocks } from "../../src/repository/lock.js";
import { PackBuilder } from "../../src/repository/pack.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { restore } from "../../src/snapshot/restorer.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { FaultyBackend } from "../helpers/faulty-backend.js";
import { fileBlobs, loadIndex, makeFixture, snapshotFiles } from "./fixture.js";

/** Every file below a directory as "path size", sorted (what a dry run must leave as it is). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${relative(dir, p)} ${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

async function checked(open: () => Promise<Repository>, readData = true): Promise<void> {
  const repo = await open();
  try {
    const r = await check(repo, { readData, workers: 1, stampIntegrity: false });
    assert.deepEqual(r.errors, [], "check finds no errors");
  } finally {
    await repo.close();
  }
}

async function withRepo<T>(open: () => Promise<Repository>, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await open();
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}

/** The files of a directory as relative path → bytes. */
async function dirFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p));
    }
  };
  await walk(dir);
  return out;
}

/** A repository with one pack holding a, b and c; b is only in the first snapshot. */
async function partlyUsed(): Promise<{ dir: string; src: string; backend: Backend; first: string; second: string; open: () => Promise<Repository> }> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-prune-"));
  const src = join(dir, "src");
  await mkdir(src);
  for (const n of ["a", "b", "c"]) await writeFile(join(src, `${n}.bin`), randomBytes(40_000));
  const backend = new LocalBackend(join(dir, "repo"));
  const repo = await Repository.init(backend, { password: "pw", kdf: TEST_KDF, packSize: 1024 * 1024 });
  const first = (await backup(repo, { paths: [src], workers: 1, time: new Date("2026-01-01T00:00:00Z") })).snapshot!.id;
  await unlink(join(src, "b.bin"));
  const second = (await backup(repo, { paths: [src], workers: 1, time: new Date("2026-01-02T00:00:00Z") })).snapshot!.id;
  await repo.close();
  return { dir, src, backend, first, second, open: () => Repository.open(backend, { password: "pw" }) };
}

describe("prune", { timeout: 120_000 }, () => {
  it("removes the data of a forgotten snapshot; the other restores byte-exact and check --read-data passes", async () => {
    const fx = await makeFixture();
    try {
      const extra = await withRepo(fx.open, (repo) => fileBlobs(repo, fx.second, "extra.bin"));
      await withRepo(fx.open, (repo) => forget(repo, { ids: [fx.second] }));
      const r = await withRepo(fx.open, (repo) => prune(repo));
      assert.equal(r.dryRun, false);
      assert.equal(r.snapshots, 1);
      assert.ok(r.removedPacks.length >= 1, "the packs only the forgotten snapshot used are deleted");
      assert.ok(r.bytesFreed >= 120_000, `freed ${r.bytesFreed}`);
      assert.equal(r.indexWritten.length, 1);
      const idx = await withRepo(fx.open, loadIndex);
      for (const b of extra) assert.equal(idx.has(Buffer.from(b, "hex")), false, "extra.bin's blobs are gone");
      for (const p of r.removedPacks) await assert.rejects(fx.backend.stat({ type: "data", name: p }));
      assert.equal((await withRepo(fx.open, (repo) => repo.listIds("index"))).length, 1, "one index file is left");

      const target = join(fx.dir, "restored");
      await withRepo(fx.open, async (repo) => {
        const [s] = await listSnapshots(repo);
        const res = await restore(repo, { snapshot: s!, target, workers: 1 });
        assert.deepEqual(res.errors, []);
      });
      const want = await dirFiles(fx.src);
      want.delete("extra.bin");
      assert.deepEqual(await dirFiles(join(target, fx.src)), want, "the remaining snapshot restores byte-exact");
      await checked(fx.open);

      const again = await withRepo(fx.open, (repo) => prune(repo));
      assert.equal(again.nothingToDo, true, "a second prune has nothing to do");
    } finally {
      await fx.cleanup();
    }
  });

  it("repacks a partly used pack when its unused share exceeds --max-unused, not otherwise", async () => {
    const fx = await partlyUsed();
    try {
      await withRepo(fx.open, (repo) => forget(repo, { ids: [fx.first] }));
      const dataPack = await withRepo(fx.open, async (repo) => {
        await repo.loadIndex();
        const [b] = await fileBlobs(repo, fx.second, "a.bin");
        return repo.index.lookup(Buffer.from(b!, "hex"))!.pack;
      });
      const lax = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: "unlimited" }));
      assert.deepEqual(lax.repackedPacks, [], "unlimited: nothing repacked");
      assert.ok(!lax.removedPacks.includes(dataPack));
      assert.ok(lax.stats.unusedAfter >= 40_000, "b.bin's bytes stay unused");
      const bytes = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: 100_000 }));
      assert.equal(bytes.nothingToDo, true, "40 KB unused is within a 100 KB limit");

      const strict = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: "10%" }));
      assert.deepEqual(strict.repackedPacks, [dataPack], "a third unused is more than 10 %");
      assert.equal(strict.newPacks.length, 1);
      assert.equal(strict.stats.repackBlobs, 2, "a.bin and c.bin are copied");
      await assert.rejects(fx.backend.stat({ type: "data", name: dataPack }));
      const files = await withRepo(fx.open, (repo) => snapshotFiles(repo, fx.second));
      const want = await dirFiles(fx.src);
      assert.deepEqual(new Map([...files].map(([p, b]) => [p.slice(fx.src.length + 1), b])), want);
      await checked(fx.open);
      const idx = await withRepo(fx.open, loadIndex);
      assert.equal(idx.packCount, 2, "one tree pack and the new data pack");
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("--dry-run changes nothing and says what it would free", async () => {
    const fx = await partlyUsed();
    try {
      await withRepo(fx.open, (repo) => forget(repo, { ids: [fx.first] }));
      const before = await tree(join(fx.dir, "repo"));
      const dry = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: "0%", dryRun: true }));
      assert.deepEqual(await tree(join(fx.dir, "repo")), before, "not a byte changed");
      assert.equal(dry.dryRun, true);
      assert.equal(dry.repackedPacks.length, 1);
      assert.ok(dry.removedPacks.length >= 1);
      assert.deepEqual(dry.indexWritten, []);
      assert.ok(dry.bytesFreed > 40_000, `would free ${dry.bytesFreed}`);
      const real = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: "0%" }));
      assert.deepEqual(real.repackedPacks, dry.repackedPacks);
      assert.deepEqual(real.removedPacks, dry.removedPacks);
      assert.ok(Math.abs(real.bytesFreed - dry.bytesFreed) < 200, `the estimate (${dry.bytesFreed}) is close to what was freed (${real.bytesFreed})`);
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("keeps one copy of a blob stored in two packs", async () => {
    const fx = await partlyUsed();
    try {
      // A second pack with the same blobs (in another order): what two concurrent backups leave.
      const { original, copy } = await withRepo(fx.open, async (repo) => {
        await repo.loadIndex();
        const [b] = await fileBlobs(repo, fx.second, "a.bin");
        const pack = repo.index.lookup(Buffer.from(b!, "hex"))!.pack;
        const entries = [...repo.index.entries()].filter((e) => e.pack === pack).reverse();
        const builder = new PackBuilder();
        for (const e of entries) builder.add(e.type, e.id, await fx.backend.load({ type: "data", name: pack }, { offset: e.offset, length: e.length }), e.rawLength, e.compressed);
        const p = builder.finish(repo.crypter, repo.packHash);
        await repo.savePack(p.id, p.bytes);
        await repo.saveJson("index", buildIndexFile([[p.id, p.entries]]));
        return { original: pack, copy: p.id };
      });
      const r = await withRepo(fx.open, (repo) => prune(repo, { maxUnused: "unlimited" }));
      assert.equal(r.stats.duplicateBlobs, 3, "a, b and c are each stored twice");
      assert.equal(r.removedPacks.filter((p) => p === original || p === copy).length, 1, "one of the two packs goes whole");
      const idx = await withRepo(fx.open, loadIndex);
      for (const e of idx.entries()) assert.equal(idx.entriesOf(e.id).length, 1, "every blob is indexed once");
      await checked(fx.open);
      assert.equal((await withRepo(fx.open, (repo) => snapshotFiles(repo, fx.second))).size, 2);
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("deletes packs no index names when they are older than its lock, and leaves newer ones", async () => {
    const fx = await partlyUsed();
    try {
      const orphan = async (repo: Repository): Promise<string> => {
        const b = new PackBuilder();
        const plain = randomBytes(5000);
        const enc = repo.encodeBlob(plain);
        b.add("data", repo.blobId(plain), enc.stored, enc.rawLength, enc.compressed);
        const p = b.finish(repo.crypter, repo.packHash);
        await repo.savePack(p.id, p.bytes);
        return p.id;
      };
      const old = await withRepo(fx.open, orphan);
      // A pack that appears after prune listed the packs (as a backup's would, had it a lock).
      let newer = "";
      let lists = 0;
      const inner = fx.backend;
      const backend = new Proxy(inner, {
        get(t, k) {
          if (k === "list") {
            return (type: Parameters<Backend["list"]>[0]) => {
              const it = t.list(type);
              if (type !== "data" || ++lists !== 1) return it;
              return (async function* () {
                yield* it;
                newer = await withRepo(fx.open, orphan);
              })();
            };
          }
          const v = Reflect.get(t, k) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
      const r = await withRepo(() => Repository.open(backend, { password: "pw" }), (repo) => prune(repo));
      assert.deepEqual(r.unreferencedPacks, [old]);
      assert.equal(r.newerUnreferencedPacks, 1);
      await assert.rejects(fx.backend.stat({ type: "data", name: old }));
      await fx.backend.stat({ type: "data", name: newer });
      const next = await withRepo(fx.open, (repo) => prune(repo));
      assert.deepEqual(next.unreferencedPacks, [newer], "the next prune removes it");
      await checked(fx.open, false);
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("refuses, deleting nothing, when a blob a snapshot needs is missing", async () => {
    const fx = await partlyUsed();
    try {
      await withRepo(fx.open, (repo) => forget(repo, { ids: [fx.first] }));
      const pack = await withRepo(fx.open, async (repo) => {
        await repo.loadIndex();
        const [b] = await fileBlobs(repo, fx.second, "c.bin");
        return repo.index.lookup(Buffer.from(b!, "hex"))!.pack;
      });
      await fx.backend.remove({ type: "data", name: pack });
      const before = await tree(join(fx.dir, "repo"));
      await assert.rejects(
        withRepo(fx.open, (repo) => prune(repo)),
        (e: unknown) => e instanceof CofferError && e.code === "CORRUPT" && /nothing was deleted/.test(e.message),
      );
      assert.deepEqual(await tree(join(fx.dir, "repo")), before);
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("fails with LOCKED while another process holds a lock, and deletes nothing", async () => {
    const fx = await partlyUsed();
    try {
      await withRepo(fx.open, (repo) => forget(repo, { ids: [fx.first] }));
      const holder = await fx.open();
      const lock = await Lock.acquire(holder, { exclusive: false });
      const before = await tree(join(fx.dir, "repo"));
      await assert.rejects(
        withRepo(fx.open, (repo) => prune(repo)),
        (e: unknown) => e instanceof CofferError && e.code === "LOCKED",
      );
      assert.deepEqual(await tree(join(fx.dir, "repo")), before);
      // A dry run takes a shared lock, so a running backup does not stop it.
      const dry = await withRepo(fx.open, (repo) => prune(repo, { dryRun: true }));
      assert.ok(dry.removedPacks.length > 0);
      await lock.release();
      await holder.close();
      assert.equal((await withRepo(fx.open, (repo) => prune(repo))).removedPacks.length, dry.removedPacks.length);
    } finally {
      await rm(fx.dir, { recursive: true, force: true });
    }
  });

  it("a backend failure at any step leaves a repository that checks out; the next prune finishes", async () => {
    const template = await partlyUsed();
    try {
      await withRepo(template.open, (repo) => forget(repo, { ids: [template.first] }));
      const want = await withRepo(template.open, (repo) => snapshotFiles(repo, template.second));
      // save 1..: the new pack, its index, the new index, the lock refreshes; remove 1..: the old index files, the packs.
      const faults = [
        { op: "save" as const, nth: 2 },
        { op: "save" as const, nth: 3 },
        { op: "save" as const, nth: 4 },
        { op: "remove" as const, nth: 1 },
        { op: "remove" as const, nth: 3 },
        { op: "remove" as const, nth: 5 },
      ];
      for (const f of faults) {
        const dir = await mkdtemp(join(tmpdir(), "coffer-prune-fault-"));
        try {
          await cp(join(template.dir, "repo"), join(dir, "repo"), { recursive: true });
          const local = new LocalBackend(join(dir, "repo"));
          const faulty = new FaultyBackend(local, { calls: [f] });
          const open = () => Repository.open(local, { password: "pw" });
          let failed = false;
          try {
            await withRepo(() => Repository.open(faulty, { password: "pw" }), (repo) => prune(repo, { maxUnused: "0%" }));
          } catch (err) {
            failed = true;
            assert.match(String(err), /injected/, `${f.op} ${f.nth}: the injected fault`);
          }
          assert.ok(failed, `${f.op} ${f.nth}: the fault hit prune`);
          // A lock whose release failed would be stale once the process is gone; this one is not gone.
          await withRepo(open, (repo) => removeLocks(repo, true));
          await checked(open);
          assert.deepEqual(await withRepo(open, (repo) => snapshotFiles(repo, template.second)), want, `${f.op} ${f.nth}: the snapshot reads back`);
          const next = await withRepo(open, (repo) => prune(repo, { maxUnused: "0%" }));
          if (failed) assert.equal(next.nothingToDo, false, `${f.op} ${f.nth}: the next prune has work left`);
          const last = await withRepo(open, (repo) => prune(repo, { maxUnused: "0%" }));
          assert.equal(last.nothingToDo, true, `${f.op} ${f.nth}: then nothing is left to do`);
          await checked(open);
          assert.deepEqual(await withRepo(open, (repo) => snapshotFiles(repo, template.second)), want);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    } finally {
      await rm(template.dir, { recursive: true, force: true });
    }
  });

  it("parses --max-unused", () => {
    assert.equal(maxUnusedLimit("5%")(95), 5);
    assert.equal(maxUnusedLimit("0%")(100), 0);
    assert.equal(maxUnusedLimit("unlimited")(1), Number.POSITIVE_INFINITY);
    assert.equal(maxUnusedLimit(1000)(1), 1000);
    assert.throws(() => maxUnusedLimit("lots"), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  });
});

describe("prune marks", () => {
  let fx: Awaited<ReturnType<typeof makeFixture>>;
  before(async () => {
    fx = await makeFixture();
  });
  after(() => fx.cleanup());

  it("nothing to do when every blob is used", async () => {
    const r = await withRepo(fx.open, (repo) => prune(repo));
    assert.equal(r.nothingToDo, true);
    assert.equal(r.removedPacks.length + r.repackedPacks.length + r.unreferencedPacks.length, 0);
    assert.ok(r.stats.usedBlobs > 10);
  });
});
