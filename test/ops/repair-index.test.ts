import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Warning } from "../../src/core/warning.js";
import { check, repairIndex } from "../../src/ops/index.js";
import { readIndexFile } from "../../src/repository/index-file.js";
import { type Fixture, flipByte, makeFixture, snapshotFiles } from "./fixture.js";

/** Every file under the fixture's source directory, by path relative to it. */
async function sourceFiles(src: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(src, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(relative(src, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

/** A snapshot's files by path relative to the backed-up directory. */
async function restoredFiles(fx: Fixture, snapshot: string): Promise<Map<string, Buffer>> {
  const repo = await fx.open();
  const out = new Map<string, Buffer>();
  for (const [p, b] of await snapshotFiles(repo, snapshot)) out.set(relative(fx.src, p), b);
  return out;
}

describe("repair index", () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await makeFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it("rebuilds a deleted index from the pack tails; check passes and every snapshot's data is there", async () => {
    const expected = await sourceFiles(fx.src);
    const firstFiles = await restoredFiles(fx, fx.first);
    let repo = await fx.open();
    const old = await repo.listIds("index");
    for (const id of old) await fx.backend.remove({ type: "index", name: id });
    const broken = await check(await fx.open(), {});
    assert.equal(broken.ok, false);
    assert.deepEqual(broken.damagedSnapshots, [fx.first, fx.second].sort());

    const packs = await repo.listIds("data");
    const r = await repairIndex(repo);
    assert.equal(r.packsIndexed, packs.length);
    assert.deepEqual(r.damagedPacks, []);
    assert.equal(r.written.length, 1);
    assert.deepEqual(r.removed, []);
    assert.deepEqual(await repo.listIds("index"), r.written);

    const ok = await check(await fx.open(), { readData: true, stampIntegrity: false });
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.warnings, []);
    assert.equal(ok.ok, true);
    assert.deepEqual(await restoredFiles(fx, fx.second), expected);
    assert.deepEqual(await restoredFiles(fx, fx.first), firstFiles);
    repo = await fx.open();
    assert.deepEqual(await repo.listIds("lock"), []);
  });

  it("supersedes and removes the old index files, writing the new one first", async () => {
    const repo = await fx.open();
    const old = await repo.listIds("index");
    assert.ok(old.length >= 2);
    const order: string[] = [];
    const save = fx.backend.save.bind(fx.backend);
    const remove = fx.backend.remove.bind(fx.backend);
    fx.backend.save = async (h, d) => {
      if (h.type === "index") order.push(`save ${h.name}`);
      return save(h, d);
    };
    fx.backend.remove = async (h) => {
      if (h.type === "index") order.push(`remove ${h.name}`);
      return remove(h);
    };
    const r = await repairIndex(repo);
    assert.equal(r.written.length, 1);
    assert.deepEqual(r.removed.sort(), [...old].sort());
    assert.equal(order[0], `save ${r.written[0]}`);
    assert.deepEqual(order.slice(1).sort(), old.map((id) => `remove ${id}`).sort());
    const f = readIndexFile(await repo.loadJson("index", r.written[0]!), r.written[0]!);
    assert.deepEqual([...f.supersedes].sort(), [...old].sort());
  });

  it("after a crash between writing the new index and removing the old ones, the index still loads correctly", async () => {
    const repo = await fx.open();
    const old = await repo.listIds("index");
    const saved = await Promise.all(old.map(async (id) => ({ id, bytes: await fx.backend.load({ type: "index", name: id }) })));
    const r = await repairIndex(repo);
    // The crash: the old files are still there next to the new one.
    for (const s of saved) await fx.backend.save({ type: "index", name: s.id }, s.bytes);
    // And one old file is stale: its pack was since removed, which would be an error if it were read.
    const reopened = await fx.open();
    assert.equal((await reopened.listIds("index")).length, old.length + 1);
    await reopened.loadIndex();
    assert.deepEqual([...reopened.index.files], r.written, "only the superseding file is used");
    assert.deepEqual(await restoredFiles(fx, fx.second), await sourceFiles(fx.src));

    const c = await check(await fx.open(), { readData: true, stampIntegrity: false });
    assert.deepEqual(c.errors, []);
    assert.equal(c.ok, true);
    assert.equal(c.warnings.length, old.length);
    assert.ok(c.warnings.every((w) => w.kind === "index" && /superseded/.test(w.message)));

    // Running the repair again finishes the job.
    const again = await repairIndex(await fx.open());
    assert.deepEqual(await (await fx.open()).listIds("index"), again.written);
    assert.deepEqual((await check(await fx.open(), {})).warnings, []);
  });

  it("leaves a pack whose header is damaged out, with a warning naming it", async () => {
    const repo = await fx.open();
    const [victim] = await repo.listIds("data");
    assert.ok(victim);
    await flipByte(fx.backend, { type: "data", name: victim }, -5);
    const warnings: Warning[] = [];
    const r = await repairIndex(repo, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(r.damagedPacks, [victim]);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, "DAMAGED");
    assert.equal(warnings[0]?.path, victim);
    const c = await check(await fx.open(), {});
    assert.equal(c.ok, false, "the damaged pack's blobs are missing now");
    assert.ok(c.warnings.some((w) => w.kind === "pack" && w.id === victim));
  });
});
