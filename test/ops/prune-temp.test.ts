import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { LocalFileWriter } from "../../src/backend/local-file-writer.js";
import { listTempFiles, TEMP_MIN_AGE_MS } from "../../src/backend/local-temp.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { prune } from "../../src/ops/prune.js";
import { Repository } from "../../src/repository/repository.js";

async function age(path: string, ms: number): Promise<void> {
  const t = new Date(Date.now() - ms);
  await utimes(path, t, t);
}

test("prune removes temp files killed runs left once they are a day old, never younger ones", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-temp-"));
  try {
    const root = join(dir, "repo");
    const repo = await Repository.init(new LocalBackend(root), { encryption: "none" });
    // What a worker killed mid-pack leaves (data/.tmp-*), and what killed saves leave elsewhere.
    const killed = new LocalFileWriter(root, "data");
    killed.write(Buffer.alloc(1000, 1));
    const [packTemp] = (await readdir(join(root, "data"))).filter((n) => n.startsWith(".tmp-"));
    assert.ok(packTemp, "the writer's temp file");
    const oldOnes = [join("data", packTemp), join("data", "ab", ".tmp-0011223344556677"), join("snapshots", ".tmp-8899aabbccddeeff"), ".tmp-c0ffee"];
    for (const p of oldOnes.slice(1)) await writeFile(join(root, p), "x".repeat(10));
    for (const p of oldOnes) await age(join(root, p), TEMP_MIN_AGE_MS + 60_000);
    // A young one: a backup may be writing it right now.
    const young = join("data", "cd", ".tmp-young00000000");
    await writeFile(join(root, young), "y");
    await age(join(root, young), TEMP_MIN_AGE_MS - 60 * 60_000);
    // Not temp files: left alone whatever their age.
    await writeFile(join(root, "data", "ab", "not-a-temp"), "z");
    await age(join(root, "data", "ab", "not-a-temp"), 10 * TEMP_MIN_AGE_MS);

    assert.deepEqual((await listTempFiles(root)).map((f) => f.path), [...oldOnes, young].sort());

    const dry = await prune(repo, { dryRun: true });
    assert.deepEqual(dry.tempFiles, [...oldOnes].sort());
    assert.equal(dry.tempBytes, 1000 + 30);
    assert.equal(dry.nothingToDo, false);
    assert.equal((await listTempFiles(root)).length, 5, "a dry run removes nothing");

    const real = await prune(repo);
    assert.deepEqual(real.tempFiles, [...oldOnes].sort());
    assert.deepEqual((await listTempFiles(root)).map((f) => f.path), [young]);
    assert.ok(await stat(join(root, "data", "ab", "not-a-temp")));

    const again = await prune(repo);
    assert.deepEqual(again.tempFiles, []);
    assert.equal(again.nothingToDo, true);
    await repo.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("prune on a backend without a local directory reports no temp files", async () => {
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none" });
  const r = await prune(repo);
  assert.deepEqual(r.tempFiles, []);
  assert.equal(r.tempBytes, 0);
});
