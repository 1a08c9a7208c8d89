import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { PackSaver } from "../../src/repository/pack-saver.js";
import { Repository } from "../../src/repository/repository.js";
import { CountingBackend } from "../helpers/counting-backend.js";

/** A repository (not remote: no local cache) with one tree pack of `n` distinct trees. */
async function repoWithTrees(n: number): Promise<{ repo: Repository; backend: CountingBackend; ids: Buffer[]; plains: Buffer[] }> {
  const backend = new CountingBackend(new MemoryBackend(), false);
  const repo = await Repository.init(backend, { encryption: "none" });
  const saver = new PackSaver(repo);
  const plains = Array.from({ length: n }, (_, i) => Buffer.from(JSON.stringify({ nodes: [{ name: `f${i}`, type: "file", size: i }] })));
  const ids = [];
  for (const p of plains) ids.push(await saver.addBlob("tree", p));
  await saver.flush();
  backend.reset();
  return { repo, backend, ids, plains };
}

describe("loading trees on the main thread", () => {
  it("reads the first trees of a pack by range, then loads the pack whole, with the same bytes either way", async () => {
    const { repo, backend, ids, plains } = await repoWithTrees(40);
    const packs = new Set(ids.map((id) => repo.index.lookup(id)!.pack));
    assert.equal(packs.size, 1, "one tree pack");
    const packSize = (await backend.inner.load({ type: "data", name: [...packs][0]! })).length;
    // A few trees: one small read each, never the whole pack.
    for (let i = 0; i < 16; i++) assert.deepEqual(await repo.loadBlob("tree", ids[i]!), plains[i]);
    assert.equal(backend.loads.data, 16);
    assert.ok(backend.bytesLoaded < packSize / 2, `${backend.bytesLoaded} bytes read for 16 trees of a ${packSize}-byte pack`);
    // More: the pack is loaded once, whole, and every later tree comes from memory.
    for (let i = 16; i < 40; i++) assert.deepEqual(await repo.loadBlob("tree", ids[i]!), plains[i]);
    for (let i = 0; i < 40; i++) assert.deepEqual(await repo.loadBlob("tree", ids[i]!), plains[i]);
    assert.equal(backend.loads.data, 17, "16 ranges and the whole pack once");
    await repo.close();
  });
});
