import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { check, type CheckProblem, type CheckResult } from "../../src/ops/index.js";
import { type Fixture, fileBlobs, flipByte, loadIndex, makeFixture } from "./fixture.js";

/**
 * Damage of each kind is found, named, and traced to the snapshots it affects. The fixture's
 * second snapshot adds `extra.bin`, whose blob no other snapshot reaches.
 */
function only(r: CheckResult, kind: CheckProblem["kind"]): CheckProblem[] {
  return r.errors.filter((e) => e.kind === kind);
}

describe("check finds damage", () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await makeFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  /** The pack holding extra.bin's only blob, and where the blob lies in it. */
  async function extraBlob(): Promise<{ blob: string; pack: string; offset: number; length: number }> {
    const repo = await fx.open();
    const [blob] = await fileBlobs(repo, fx.second, "extra.bin");
    assert.ok(blob);
    const e = (await loadIndex(repo)).lookup(Buffer.from(blob, "hex"));
    assert.ok(e);
    return { blob, pack: e.pack, offset: e.offset, length: e.length };
  }

  it("a flipped byte in a pack's blob area: the structure check passes, readData names the pack, the blob and the snapshot", async () => {
    const x = await extraBlob();
    await flipByte(fx.backend, { type: "data", name: x.pack }, x.offset + (x.length >> 1));

    const structure = await check(await fx.open(), {});
    assert.equal(structure.ok, true, JSON.stringify(structure.errors));

    const r = await check(await fx.open(), { readData: true, workers: 2 });
    assert.equal(r.ok, false);
    assert.deepEqual(r.stamped, [], "nothing is stamped after a failed check");
    const packs = only(r, "pack");
    assert.equal(packs.length, 1, JSON.stringify(r.errors));
    const p = packs[0]!;
    assert.equal(p.id, x.pack);
    assert.deepEqual(p.blobs, [x.blob]);
    assert.deepEqual(p.snapshots, [fx.second]);
    assert.match(p.message, /do not match its name/);
    assert.match(p.message, /1 of its \d+ blobs fail/);
    assert.deepEqual(r.damagedSnapshots, [fx.second]);
    assert.equal(r.packsRead, r.packsChecked);
  });

  it("a subset that does not read the damaged pack passes; the group that does fails", async () => {
    const x = await extraBlob();
    await flipByte(fx.backend, { type: "data", name: x.pack }, x.offset + 3);
    const t = 2;
    const group = (parseInt(x.pack.slice(0, 2), 16) % t) + 1;
    const other = (group % t) + 1;
    assert.equal((await check(await fx.open(), { readDataSubset: `${other}/${t}` })).ok, true);
    const r = await check(await fx.open(), { readDataSubset: `${group}/${t}` });
    assert.equal(r.ok, false);
    assert.deepEqual(r.damagedSnapshots, [fx.second]);
  });

  it("a flipped byte in a pack's header: the structure check names the pack", async () => {
    const x = await extraBlob();
    await flipByte(fx.backend, { type: "data", name: x.pack }, -10);
    const r = await check(await fx.open(), {});
    assert.equal(r.ok, false);
    const packs = only(r, "pack");
    assert.equal(packs.length, 1, JSON.stringify(r.errors));
    assert.equal(packs[0]?.id, x.pack);
    assert.match(packs[0]?.message ?? "", /header is damaged/);
    assert.deepEqual(packs[0]?.blobs, [x.blob], "its blobs are at risk");
    assert.deepEqual(packs[0]?.snapshots, [fx.second]);

    // Reading it shows the blobs themselves are intact: only the header is damaged.
    const full = await check(await fx.open(), { readData: true });
    const p = only(full, "pack")[0];
    assert.equal(p?.id, x.pack);
    assert.match(p?.message ?? "", /header of pack .* failed authentication/);
    assert.deepEqual(p?.blobs, []);
    assert.deepEqual(full.damagedSnapshots, []);
  });

  it("a flipped byte in an index file: the index file is named", async () => {
    const repo = await fx.open();
    const [idx] = await repo.listIds("index");
    assert.ok(idx);
    await flipByte(fx.backend, { type: "index", name: idx }, 40);
    const r = await check(await fx.open(), {});
    assert.equal(r.ok, false);
    const bad = only(r, "index");
    assert.equal(bad.length, 1);
    assert.equal(bad[0]?.id, idx);
    assert.match(bad[0]?.message ?? "", /repair index/);
    // Its packs are no longer indexed: warned about, and the snapshots that need them named.
    assert.ok(r.warnings.every((w) => w.kind === "pack" && /repair index/.test(w.message)));
    assert.ok(r.warnings.length > 0);
    assert.ok(r.damagedSnapshots.length > 0);
  });

  it("a flipped byte in a snapshot file: the snapshot is named", async () => {
    await flipByte(fx.backend, { type: "snapshot", name: fx.first }, 20);
    const r = await check(await fx.open(), {});
    assert.equal(r.ok, false);
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    assert.equal(r.errors[0]?.kind, "snapshot");
    assert.equal(r.errors[0]?.id, fx.first);
    assert.deepEqual(r.errors[0]?.snapshots, [fx.first]);
    assert.deepEqual(r.damagedSnapshots, [fx.first]);
    assert.equal(r.snapshotsChecked, 2);
  });

  it("a deleted pack: the missing pack and the snapshots that need it are named", async () => {
    const x = await extraBlob();
    await fx.backend.remove({ type: "data", name: x.pack });
    const r = await check(await fx.open(), {});
    assert.equal(r.ok, false);
    const packs = only(r, "pack");
    assert.equal(packs.length, 1);
    assert.equal(packs[0]?.id, x.pack);
    assert.match(packs[0]?.message ?? "", /missing/);
    assert.deepEqual(packs[0]?.snapshots, [fx.second]);
    assert.deepEqual(r.damagedSnapshots, [fx.second]);
  });

  it("a deleted pack of trees: the missing trees and every snapshot that reaches them are named", async () => {
    const repo = await fx.open();
    const index = await loadIndex(repo);
    const treePacks = new Set([...index.entries()].filter((e) => e.type === "tree").map((e) => e.pack));
    assert.ok(treePacks.size > 0);
    const victims = [...treePacks];
    for (const p of victims) await fx.backend.remove({ type: "data", name: p });
    // Every tree of both snapshots is gone, so each root tree is named with its snapshot.
    const r = await check(await fx.open(), { readData: true });
    assert.equal(r.ok, false);
    assert.deepEqual(only(r, "pack").map((p) => p.id).sort(), victims.sort());
    const trees = only(r, "tree");
    assert.ok(trees.length >= 2);
    assert.ok(trees.every((t) => /missing/.test(t.message)));
    assert.deepEqual(r.damagedSnapshots, [fx.first, fx.second].sort());
  });

  it("a data blob no index lists is named with its snapshots", async () => {
    const x = await extraBlob();
    // Rewrite the index without extra.bin's pack: its blob is referenced but not indexed.
    const repo = await fx.open();
    const { buildIndexFile, readIndexFile } = await import("../../src/repository/index-file.js");
    for (const id of await repo.listIds("index")) {
      const f = readIndexFile(await repo.loadJson("index", id), id);
      if (!f.packs.some(([p]) => p === x.pack)) continue;
      await repo.saveJson("index", buildIndexFile(f.packs.filter(([p]) => p !== x.pack), [id]));
    }
    const r = await check(await fx.open(), {});
    assert.equal(r.ok, false);
    const blobs = only(r, "blob");
    assert.equal(blobs.length, 1, JSON.stringify(r.errors));
    assert.equal(blobs[0]?.id, x.blob);
    assert.deepEqual(blobs[0]?.snapshots, [fx.second]);
    assert.ok(r.warnings.some((w) => w.kind === "pack" && w.id === x.pack));
    assert.ok(r.warnings.some((w) => w.kind === "index" && /superseded/.test(w.message)));
  });
});
