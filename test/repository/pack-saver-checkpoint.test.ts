// PackSaver's index checkpoints: a file every `checkpointPacks` packs, or once the packs not
// yet indexed hold `checkpointBlobs` blobs (each index file stays small, however many small
// blobs a backup makes), and every blob is in exactly one index file at the end.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { PackSaver } from "../../src/repository/pack-saver.js";
import { Repository } from "../../src/repository/repository.js";

async function indexEntries(repo: Repository): Promise<number[]> {
  const counts: number[] = [];
  for (const id of await repo.listIds("index")) {
    const file = (await repo.loadJson("index", id)) as { packs: { blobs: unknown[] }[] };
    counts.push(file.packs.reduce((n, p) => n + p.blobs.length, 0));
  }
  return counts.sort((a, b) => a - b);
}

test("an index file is written once the unindexed packs hold checkpointBlobs blobs", async () => {
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF, packSize: 4096 });
  const saver = new PackSaver(repo, { checkpointBlobs: 100 });
  for (let i = 0; i < 350; i++) await saver.addBlob("data", Buffer.from(`small blob number ${i} `.repeat(40)));
  await saver.flush();
  const counts = await indexEntries(repo);
  assert.equal(counts.reduce((a, b) => a + b, 0), 350, "every blob indexed once");
  assert.ok(counts.length >= 3, `several index files (${counts.join(", ")})`);
  // A file is cut at the first pack that reaches the bound: at most one pack's blobs (a few
  // dozen of these in a 4 KiB pack) above it.
  for (const c of counts) assert.ok(c < 100 + 50, `an index file of ${c} blobs`);
});

test("without a blob bound reached, one index file at the end (the pack checkpoint alone)", async () => {
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF, packSize: 4096 });
  const saver = new PackSaver(repo, { checkpointBlobs: Number.MAX_SAFE_INTEGER, checkpointPacks: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < 350; i++) await saver.addBlob("data", Buffer.from(`small blob number ${i} `.repeat(40)));
  await saver.flush();
  assert.deepEqual(await indexEntries(repo), [350]);
});
