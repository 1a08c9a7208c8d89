import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { Handle, LoadOptions } from "../../src/backend/backend.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { MasterIndex } from "../../src/repository/master-index.js";
import { PACK_BLOCK, PackBlocks } from "../../src/repository/pack-blocks.js";
import { CountingBackend } from "../helpers/counting-backend.js";

const PACK = "ab".repeat(32);
const SIZE = 5 * PACK_BLOCK + 1000; // the last block is short

/** A memory backend holding one pack of random bytes; counts loads. Fails the next load when `failNext` is set. */
class FlakyBackend extends CountingBackend {
  failNext = false;
  override async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    if (this.failNext) {
      this.failNext = false;
      this.loads[h.type]++;
      throw new Error("connection reset");
    }
    return super.load(h, opts);
  }
}

/**
 * The range a read gave, checking that its buffer is its own (unless it is the backend's
 * answer to exactly the range: the memory backend's small buffers come from Node's pool).
 */
function bytesOf(r: { data: Buffer; at: number }, length: number, own = true): Buffer {
  if (own) {
    assert.equal(r.data.byteOffset, 0);
    assert.equal(r.data.buffer.byteLength, r.data.length, "the buffer may be transferred without taking kept blocks along");
  }
  return r.data.subarray(r.at, r.at + length);
}

async function setup(budget = 64 * PACK_BLOCK): Promise<{ bytes: Buffer; backend: FlakyBackend; blocks: PackBlocks }> {
  const store = new MemoryBackend("memory:pack-blocks");
  const bytes = randomBytes(SIZE);
  await store.save({ type: "data", name: PACK }, bytes);
  const backend = new FlakyBackend(store);
  // The index knows blobs up to 100 bytes before the end (a pack's header follows its blobs).
  return { bytes, backend, blocks: new PackBlocks(backend, () => SIZE - 100, budget) };
}

describe("PackBlocks", () => {
  it("reads any range, across blocks and up to the last blob, in a buffer of its own", async () => {
    const { bytes, blocks } = await setup();
    for (const [offset, length] of [
      [0, 10],
      [PACK_BLOCK - 5, 10],
      [3, 3 * PACK_BLOCK],
      [4 * PACK_BLOCK + 7, PACK_BLOCK + 800],
      [0, SIZE - 100],
    ] as const) {
      const got = bytesOf(await blocks.read(PACK, offset, length), length);
      assert.ok(got.equals(bytes.subarray(offset, offset + length)), `${offset}+${length}`);
    }
  });

  it("fetches each kept block once, and a run of missing blocks in one request", async () => {
    const { bytes, backend, blocks } = await setup();
    await blocks.read(PACK, 10, 100); // block 0
    await blocks.read(PACK, 3 * PACK_BLOCK + 1, 10); // block 3
    assert.equal(backend.loads.data, 2);
    // Blocks 1 and 2 in one request, 0 and 3 from memory.
    const got = bytesOf(await blocks.read(PACK, 50, 3 * PACK_BLOCK + 20), 3 * PACK_BLOCK + 20);
    assert.ok(got.equals(bytes.subarray(50, 50 + 3 * PACK_BLOCK + 20)));
    assert.equal(backend.loads.data, 3);
    assert.equal(blocks.fetched, 4 * PACK_BLOCK);
    // Two reads at once of one block share its request.
    const [a, b] = (await Promise.all([blocks.read(PACK, 4 * PACK_BLOCK, 5), blocks.read(PACK, 4 * PACK_BLOCK + 10, 5)])).map((r) => bytesOf(r, 5)) as [Buffer, Buffer];
    assert.ok(a.equals(bytes.subarray(4 * PACK_BLOCK, 4 * PACK_BLOCK + 5)) && b.equals(bytes.subarray(4 * PACK_BLOCK + 10, 4 * PACK_BLOCK + 15)));
    assert.equal(backend.loads.data, 4);
  });

  it("keeps its blocks when the buffer a read gave is transferred away", async () => {
    const { bytes, backend, blocks } = await setup();
    const r = await blocks.read(PACK, 100, 2 * PACK_BLOCK);
    structuredClone(r.data.buffer, { transfer: [r.data.buffer as ArrayBuffer] });
    assert.equal(r.data.buffer.byteLength, 0, "detached");
    const again = bytesOf(await blocks.read(PACK, 100, 2 * PACK_BLOCK), 2 * PACK_BLOCK);
    assert.ok(again.equals(bytes.subarray(100, 100 + 2 * PACK_BLOCK)));
    assert.equal(backend.loads.data, 1, "from the kept blocks");
  });

  it("never asks for bytes past the last blob the index knows", async () => {
    const { backend, blocks } = await setup();
    await blocks.read(PACK, 5 * PACK_BLOCK, 10);
    assert.equal(backend.bytesLoaded, SIZE - 100 - 5 * PACK_BLOCK);
  });

  it("reads a range it is not to keep exactly, and keeps none of it", async () => {
    const { bytes, backend, blocks } = await setup();
    const got = bytesOf(await blocks.read(PACK, 7, 2 * PACK_BLOCK, false), 2 * PACK_BLOCK);
    assert.ok(got.equals(bytes.subarray(7, 7 + 2 * PACK_BLOCK)));
    assert.equal(backend.bytesLoaded, 2 * PACK_BLOCK);
    await blocks.read(PACK, 7, 10);
    assert.equal(backend.loads.data, 2, "fetched again");
    // Once a block is kept, a read not to keep uses it.
    await blocks.read(PACK, 20, 10, false);
    assert.equal(backend.loads.data, 2);
  });

  it("keeps at most its budget, dropping the blocks used longest ago", async () => {
    const { backend, blocks } = await setup(2 * PACK_BLOCK);
    await blocks.read(PACK, 0, 1); // block 0
    await blocks.read(PACK, PACK_BLOCK, 1); // block 1
    await blocks.read(PACK, 0, 1); // block 0 used again
    await blocks.read(PACK, 2 * PACK_BLOCK, 1); // block 2: block 1 goes
    assert.equal(backend.loads.data, 3);
    await blocks.read(PACK, 0, 1);
    assert.equal(backend.loads.data, 3, "block 0 is still kept");
    await blocks.read(PACK, PACK_BLOCK, 1);
    assert.equal(backend.loads.data, 4, "block 1 was dropped");
  });

  it("asks for exactly the range when its blocks fail, and for the blocks again next time", async () => {
    const { bytes, backend, blocks } = await setup();
    backend.failNext = true;
    const got = bytesOf(await blocks.read(PACK, 0, 10), 10, false);
    assert.ok(got.equals(bytes.subarray(0, 10)));
    assert.equal(backend.loads.data, 2);
    assert.equal(backend.bytesLoaded, 10, "the range alone");
    await blocks.read(PACK, 20, 10);
    assert.equal(backend.loads.data, 3, "the block was not kept from the failed request");
    backend.failNext = true;
    await assert.rejects(blocks.read(PACK, 2 * PACK_BLOCK, 10, false), /connection reset/, "a read of exactly its range that fails fails");
  });

  it("reads the blobs before the end of a pack cut short, though its blocks reach past it", async () => {
    const { bytes, backend } = await setup();
    const blocks = new PackBlocks(backend, () => SIZE + 5000, 64 * PACK_BLOCK); // the index knows more than the pack holds
    const got = bytesOf(await blocks.read(PACK, 5 * PACK_BLOCK, 10), 10, false);
    assert.ok(got.equals(bytes.subarray(5 * PACK_BLOCK, 5 * PACK_BLOCK + 10)));
    await assert.rejects(blocks.read(PACK, SIZE - 10, 100));
  });
});

describe("MasterIndex.packEnds", () => {
  it("gives where the last blob of each pack ends, whatever the order the blobs were added in", () => {
    const idx = new MasterIndex();
    const blob = (n: number, offset: number, length: number) => ({ id: Buffer.alloc(32, n), type: "data" as const, offset, length, rawLength: length, compressed: false });
    idx.add("p1", blob(1, 500, 100));
    idx.add("p1", blob(2, 0, 500));
    idx.add("p2", blob(3, 0, 42));
    assert.deepEqual([...idx.packEnds()], [["p1", 600], ["p2", 42]]);
  });
});
