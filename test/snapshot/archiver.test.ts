import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Handle, SaveOptions } from "../../src/backend/backend.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { decodeTree, type TreeNode } from "../../src/snapshot/tree.js";

async function nodeAt(repo: Repository, treeId: string, path: string): Promise<TreeNode | undefined> {
  let id = treeId;
  const parts = path.split("/").filter(Boolean);
  let node: TreeNode | undefined;
  for (const p of parts) {
    const t = decodeTree(await repo.loadBlob("tree", Buffer.from(id, "hex")));
    node = t.nodes.find((n) => n.name === p);
    if (!node) return undefined;
    id = node.subtree ?? "";
  }
  return node;
}

describe("backup", () => {
  let dir: string;
  let repo: Repository;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-archiver-"));
    mkdirSync(join(dir, "a/b"), { recursive: true });
    mkdirSync(join(dir, "empty"));
    writeFileSync(join(dir, "a/small.txt"), "hello\n");
    writeFileSync(join(dir, "a/b/big.bin"), randomBytes(3 * 1024 * 1024));
    writeFileSync(join(dir, "zero.dat"), Buffer.alloc(0));
    repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF, packSize: 1024 * 1024 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("stores every file and empty directory under its full path", async () => {
    const r = await backup(repo, { paths: [dir], tags: ["t1"], label: "first" });
    assert.ok(r.snapshot);
    assert.equal(r.summary.files_new, 3);
    assert.equal(r.summary.bytes_read, 3 * 1024 * 1024 + 6);
    assert.deepEqual(r.snapshot.tags, ["t1"]);
    assert.equal(r.snapshot.label, "first");
    assert.equal(r.partial, false);
    const big = await nodeAt(repo, r.snapshot.tree, `${dir}/a/b/big.bin`);
    assert.equal(big?.type, "file");
    assert.ok((big?.content?.length ?? 0) >= 1);
    const empty = await nodeAt(repo, r.snapshot.tree, `${dir}/empty`);
    assert.equal(empty?.type, "dir");
    const zero = await nodeAt(repo, r.snapshot.tree, `${dir}/zero.dat`);
    assert.deepEqual(zero?.content, []);
    // small packs: the 3 MiB file went into several packs
    assert.ok(repo.index.packCount >= 3, `packs: ${repo.index.packCount}`);
  });

  it("does not read unchanged files again and reuses the same trees", async () => {
    const [first] = await listSnapshots(repo);
    const r = await backup(repo, { paths: [dir] });
    assert.equal(r.parent, first?.id);
    assert.equal(r.summary.files_unmodified, 3);
    assert.equal(r.summary.bytes_read, 0);
    // The directory's own tree is reused as it was (the root tree above it records /tmp,
    // which tests running in parallel change).
    assert.ok(r.summary.blobs_added <= 1);
    const a = await nodeAt(repo, r.snapshot!.tree, dir);
    const b = await nodeAt(repo, first!.tree, dir);
    assert.equal(a?.subtree, b?.subtree);
  });

  it("reads only what changed, and new data only once", async () => {
    appendFileSync(join(dir, "a/small.txt"), "more\n");
    const r = await backup(repo, { paths: [dir] });
    assert.equal(r.summary.files_changed, 1);
    assert.equal(r.summary.files_unmodified, 2);
    assert.equal(r.summary.bytes_read, 11);
    const again = await backup(repo, { paths: [dir], parent: false });
    assert.equal(again.summary.bytes_read, 3 * 1024 * 1024 + 11, "--force reads everything");
    // Nothing new but, at most, the root tree: the snapshot records /tmp itself, whose mtime
    // moves whenever a test running in parallel creates a temp directory.
    assert.ok(again.summary.blobs_added <= 1, `stores nothing new (${again.summary.blobs_added} blobs)`);
    assert.ok(again.summary.bytes_added < 4096);
  });

  it("a dry run writes nothing", async () => {
    const before = (await listSnapshots(repo)).length;
    const packs = repo.index.packCount;
    writeFileSync(join(dir, "new.txt"), "new");
    const r = await backup(repo, { paths: [dir], dryRun: true });
    assert.equal(r.dryRun, true);
    assert.equal(r.snapshot, undefined);
    assert.equal(r.summary.files_new, 1);
    assert.equal((await listSnapshots(repo)).length, before);
    assert.equal(repo.index.packCount, packs);
  });

  it("a missing path fails before anything is written", async () => {
    const before = (await listSnapshots(repo)).length;
    await assert.rejects(backup(repo, { paths: [dir, join(dir, "nope")] }), (e) => isCofferError(e, "PATH_MISSING"));
    assert.equal((await listSnapshots(repo)).length, before);
  });

  it("reads hard-linked files once and records both names", async () => {
    const d = mkdtempSync(join(tmpdir(), "coffer-hl-"));
    try {
      writeFileSync(join(d, "one"), randomBytes(1000));
      linkSync(join(d, "one"), join(d, "two"));
      const r = await backup(repo, { paths: [d] });
      assert.equal(r.summary.bytes_read, 1000);
      const one = await nodeAt(repo, r.snapshot!.tree, `${d}/one`);
      const two = await nodeAt(repo, r.snapshot!.tree, `${d}/two`);
      assert.deepEqual(one?.content, two?.content);
      assert.equal(one?.inode, two?.inode);
      assert.equal(one?.links, 2);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("backs up several paths, and a path inside another only once", async () => {
    const r = await backup(repo, { paths: [join(dir, "a"), join(dir, "a/b"), join(dir, "empty")] });
    assert.deepEqual(r.snapshot?.paths.sort(), [join(dir, "a"), join(dir, "empty")].sort());
    assert.ok(await nodeAt(repo, r.snapshot!.tree, `${dir}/a/b/big.bin`));
    assert.equal(await nodeAt(repo, r.snapshot!.tree, `${dir}/zero.dat`), undefined);
  });

  it("records host, time and kind overrides", async () => {
    const t = new Date("2025-01-02T03:04:05Z");
    const r = await backup(repo, { paths: [dir], host: "elsewhere", time: t, kind: "revision" });
    assert.equal(r.snapshot?.hostname, "elsewhere");
    assert.equal(r.snapshot?.time, t.toISOString());
    assert.equal(r.snapshot?.kind, "revision");
    assert.equal(r.parent, undefined, "no parent from another host");
  });
});

describe("backup into a local repository", () => {
  it("workers save packs themselves, and the repository checks out clean", async () => {
    const { LocalBackend } = await import("../../src/backend/local.js");
    const { check } = await import("../../src/ops/check.js");
    const root = mkdtempSync(join(tmpdir(), "coffer-local-"));
    try {
      const data = join(root, "data");
      mkdirSync(data);
      for (let i = 0; i < 5; i++) writeFileSync(join(data, `f${i}.bin`), randomBytes(900 * 1024));
      const backend = new LocalBackend(join(root, "repo"));
      assert.equal(backend.localRoot(), join(root, "repo"));
      const repo = await Repository.init(backend, { password: "pw", kdf: TEST_KDF, packSize: 1024 * 1024 });
      const r = await backup(repo, { paths: [data] });
      assert.equal(r.summary.files_new, 5);
      assert.ok(repo.index.packCount >= 3, `packs: ${repo.index.packCount}`);
      const reopened = await Repository.open(new LocalBackend(join(root, "repo")), { password: "pw" });
      await reopened.loadIndex();
      const c = await check(reopened, { readData: true, stampIntegrity: false });
      assert.equal(c.ok, true, JSON.stringify(c.errors));
      assert.equal(c.warnings.length, 0, JSON.stringify(c.warnings));
      assert.equal(c.packsRead, reopened.index.packCount);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("backup into a remote repository", () => {
  it("workers build each pack in the buffer of one already uploaded, and every pack checks out", async () => {
    const { DelegatingBackend } = await import("../../src/backend/delegating-backend.js");
    const { check } = await import("../../src/ops/check.js");
    const { restore } = await import("../../src/snapshot/restorer.js");
    const { readFileSync } = await import("node:fs");
    // Keeps the views the driver was given: once a pack is uploaded, its buffer is moved back
    // to the worker that built it, and the view left here is detached.
    class Watching extends DelegatingBackend {
      readonly packs: Uint8Array[] = [];
      override save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
        if (h.type === "data") this.packs.push(data);
        return super.save(h, data, opts); // MemoryBackend keeps a copy
      }
    }
    const root = mkdtempSync(join(tmpdir(), "coffer-remote-"));
    try {
      const data = join(root, "data");
      mkdirSync(data);
      const files = Array.from({ length: 12 }, () => randomBytes(700 * 1024));
      files.forEach((f, i) => writeFileSync(join(data, `f${i}.bin`), f));
      const backend = new Watching(new MemoryBackend());
      const repo = await Repository.init(backend, { password: "pw", kdf: TEST_KDF, packSize: 1024 * 1024 });
      const r = await backup(repo, { paths: [data] });
      assert.equal(r.summary.files_new, 12);
      assert.ok(r.snapshot);
      assert.ok(backend.packs.length >= 6, `packs: ${backend.packs.length}`);
      const reused = backend.packs.filter((p) => p.buffer.byteLength === 0).length;
      assert.ok(reused >= 1, `buffers moved back to the workers: ${reused} of ${backend.packs.length}`);
      const c = await check(repo, { readData: true, stampIntegrity: false });
      assert.equal(c.ok, true, JSON.stringify(c.errors));
      assert.equal(c.packsRead, repo.index.packCount);
      await restore(repo, { snapshot: r.snapshot, target: join(root, "out") });
      files.forEach((f, i) => assert.deepEqual(readFileSync(join(root, "out", data, `f${i}.bin`)), f));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("backup of chunks longer than the workers' first read buffer", () => {
  it("grows the buffer for them and stores every byte", async () => {
    const { FastCdc } = await import("../../src/chunker/fastcdc.js");
    const { restore } = await import("../../src/snapshot/restorer.js");
    const { readFileSync } = await import("node:fs");
    // Small chunker parameters: the workers' buffer starts at 4 × avg = 64 KiB, and a run of
    // zeros finds no cut point, so it makes chunks of max = 256 KiB.
    const chunker = { min: 4096, avg: 16 * 1024, max: 256 * 1024, seed: "00000000000000a1" };
    const zeros = Buffer.alloc(1024 * 1024 + 1000);
    const cdc = new FastCdc({ ...chunker, seed: BigInt(`0x${chunker.seed}`) });
    assert.equal(cdc.cut(zeros, 0, zeros.length, true), chunker.max, "precondition: zeros make chunks of max length");
    const root = mkdtempSync(join(tmpdir(), "coffer-growbuf-"));
    try {
      const data = join(root, "data");
      mkdirSync(data);
      const mixed = Buffer.concat([randomBytes(300 * 1024), zeros, randomBytes(200 * 1024)]);
      writeFileSync(join(data, "zeros.bin"), zeros);
      writeFileSync(join(data, "mixed.bin"), mixed);
      writeFileSync(join(data, "small.txt"), "small file after the large ones\n");
      const template = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
      const repo = await Repository.init(new MemoryBackend(), {
        password: "pw",
        kdf: TEST_KDF,
        packSize: 1024 * 1024,
        paramsFrom: { ...template.config, chunker },
      });
      const r = await backup(repo, { paths: [data] });
      assert.equal(r.summary.files_new, 3);
      assert.ok(r.snapshot);
      await restore(repo, { snapshot: r.snapshot, target: join(root, "out") });
      const out = join(root, "out", data);
      assert.deepEqual(readFileSync(join(out, "zeros.bin")), zeros);
      assert.deepEqual(readFileSync(join(out, "mixed.bin")), mixed);
      assert.equal(readFileSync(join(out, "small.txt"), "utf8"), "small file after the large ones\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
