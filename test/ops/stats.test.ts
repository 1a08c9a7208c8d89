import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../src/backend/memory.js";
import { stats } from "../../src/ops/stats.js";
import { backup } from "../../src/snapshot/archiver.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "coffer-stats-"));
  const src = join(dir, "src");
  await mkdir(join(src, "copy"), { recursive: true });
  const data = randomBytes(100_000);
  await writeFile(join(src, "data.bin"), data);
  await writeFile(join(src, "copy", "data.bin"), data); // same content, another file
  await writeFile(join(src, "small.txt"), "12345");
  await link(join(src, "small.txt"), join(src, "small-link.txt"));
  await symlink("small.txt", join(src, "sym"));
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
  const first = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  await writeFile(join(src, "later.txt"), "later!");
  const second = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  const depth = src.split("/").filter(Boolean).length; // directories above and including src
  return { dir, src, repo, first, second, depth, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("restore-size counts files, dirs and bytes, a hard-linked file once, summed over snapshots", async () => {
  const s = await setup();
  try {
    const one = await stats(s.repo, { snapshots: [s.first], mode: "restore-size" });
    assert.equal(one.files, 3); // data.bin, copy/data.bin, small.txt (+ its hard link)
    assert.equal(one.totalSize, 200_000 + 5);
    assert.equal(one.dirs, s.depth + 1); // the path down to src, and copy
    assert.equal(one.others, 1);
    const both = await stats(s.repo, { mode: "restore-size" });
    assert.deepEqual(both.snapshots, (await listSnapshots(s.repo)).map((x) => x.id));
    assert.equal(both.files, 3 + 4);
    assert.equal(both.totalSize, 2 * (200_000 + 5) + 6);
    assert.equal(both.repository.snapshots, 2);
  } finally {
    await s.cleanup();
  }
});

test("files-by-contents counts distinct contents once across snapshots", async () => {
  const s = await setup();
  try {
    const r = await stats(s.repo, { mode: "files-by-contents" });
    assert.equal(r.files, 3); // the 100 kB content, "12345", "later!"
    assert.equal(r.totalSize, 100_000 + 5 + 6);
  } finally {
    await s.cleanup();
  }
});

test("raw-data counts the distinct blobs the snapshots reference, with stored sizes from the index", async () => {
  const s = await setup();
  try {
    const all = await stats(s.repo, { mode: "raw-data" });
    const raw = all.raw!;
    assert.equal(raw.dataBlobs, 3);
    assert.equal(raw.missing, 0);
    // Every blob of this repository is referenced by one of its snapshots.
    assert.equal(raw.blobs, all.repository.blobs);
    assert.equal(raw.rawBytes, all.repository.blobRawBytes);
    assert.equal(raw.storedBytes, all.repository.blobStoredBytes);
    assert.ok(raw.compressionRatio > 0);
    assert.ok(all.repository.packBytes >= raw.storedBytes);
    assert.equal(all.repository.dataBlobs + all.repository.treeBlobs, all.repository.blobs);
    const first = await stats(s.repo, { snapshots: [s.first], mode: "raw-data" });
    assert.equal(first.raw!.dataBlobs, 2);
    assert.ok(first.raw!.treeBlobs < raw.treeBlobs);
  } finally {
    await s.cleanup();
  }
});
