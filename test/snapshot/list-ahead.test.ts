import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backup, prepareBackup } from "../../src/snapshot/archiver.js";
import { parseListing } from "../../src/snapshot/entry-stat.js";
import { listAheadState } from "../../src/snapshot/list-ahead.js";
import { loadNative } from "../../src/snapshot/native.js";
import { decodeTree } from "../../src/snapshot/tree.js";

type Handle = object;
interface Addon {
  listAhead(roots: Buffer[], maxBytes: number): Handle;
  takeListed(h: Handle, dir: Buffer): Buffer | undefined;
  stopListAhead(h: Handle): void;
  listAheadStatus(h: Handle): { listed: number; held: number; finished: boolean };
  scandir(dir: Buffer): Buffer;
}
const addon = loadNative() as unknown as Addon;

/** Waits until the thread has `n` listings queued, or has ended. */
async function queued(h: Handle, n: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const s = addon.listAheadStatus(h);
    if (s.listed >= n || s.finished) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const names = (listing: Buffer | undefined, dir: string): string[] => parseListing(listing!, Buffer.from(dir)).map((e) => e.name.toString());
const entries = (listing: Buffer | undefined, dir: string): string[] =>
  parseListing(listing!, Buffer.from(dir)).map((e) => `${e.name.toString()} ${e.stat?.ino} ${e.stat?.mode} ${e.stat?.size} ${e.stat?.mtimeNs} ${e.stat?.ctimeNs}`);
const take = (h: Handle, dir: string): Buffer | undefined => addon.takeListed(h, Buffer.from(dir));

async function subtreeOf(repo: Repository, tree: string, path: string): Promise<string | undefined> {
  let id: string | undefined = tree;
  for (const part of path.split("/").filter(Boolean)) {
    const t = decodeTree(await repo.loadBlob("tree", Buffer.from(id!, "hex")));
    id = t.nodes.find((n) => n.name === part)?.subtree;
  }
  return id;
}

describe("listing directories ahead of the walk", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-list-ahead-"));
    // "a-b" sorts before "a/..." by bytes, but the walk lists all of a's subtree first.
    mkdirSync(join(dir, "a/b"), { recursive: true });
    mkdirSync(join(dir, "a/c"));
    mkdirSync(join(dir, "a-b"));
    mkdirSync(join(dir, "z"));
    writeFileSync(join(dir, "a/file.txt"), "x");
    writeFileSync(join(dir, "a/c/deep.txt"), "y");
    symlinkSync(join(dir, "a"), join(dir, "link-to-a"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is in the native addon where it is built", () => {
    assert.equal(typeof addon.listAhead, "function");
  });

  it("lists every directory once, in the walk's order, not through symlinks, as scandir does", async () => {
    const h = addon.listAhead([Buffer.from(dir)], 1 << 20);
    await queued(h, 6);
    const s = addon.listAheadStatus(h);
    assert.equal(s.listed, 6); // dir, a, a/b, a/c, a-b, z
    assert.equal(s.finished, true);
    for (const d of [dir, join(dir, "a"), join(dir, "a/b"), join(dir, "a/c"), join(dir, "a-b"), join(dir, "z")]) {
      // As scandir lists it now, but for atimes: listing a directory may set its atime.
      assert.deepEqual(entries(take(h, d), d), entries(addon.scandir(Buffer.from(d)), d), d);
      assert.equal(take(h, d), undefined, "given out once");
    }
    assert.equal(take(h, join(dir, "link-to-a")), undefined);
    assert.deepEqual(addon.listAheadStatus(h), { listed: 0, held: 0, finished: true });
    addon.stopListAhead(h);
  });

  it("drops what the walk skips, and does not keep what the walk has passed", async () => {
    const h = addon.listAhead([Buffer.from(dir)], 1 << 20);
    await queued(h, 6);
    assert.deepEqual(names(take(h, dir), dir).sort(), ["a", "a-b", "link-to-a", "z"]);
    // The walk excluded a: its listings go when a later directory is taken.
    assert.deepEqual(names(take(h, join(dir, "a-b")), join(dir, "a-b")), []);
    assert.equal(addon.listAheadStatus(h).listed, 1);
    assert.equal(take(h, join(dir, "a/c")), undefined);
    assert.ok(take(h, join(dir, "z")));
    addon.stopListAhead(h);

    // A walk ahead of the thread: the thread does not keep what the walk has taken or passed.
    const slow = addon.listAhead([Buffer.from(dir)], 1);
    await queued(slow, 1); // the root, then it waits: its bound is reached
    assert.equal(addon.listAheadStatus(slow).listed, 1);
    assert.equal(take(slow, join(dir, "a/b")), undefined, "not listed yet");
    await queued(slow, 1);
    // The root was dropped (passed), a and a/b were passed; a/c, a-b and z come.
    assert.deepEqual(names(take(slow, join(dir, "a/c")), join(dir, "a/c")), ["deep.txt"]);
    await queued(slow, 1);
    assert.ok(take(slow, join(dir, "a-b")));
    await queued(slow, 1);
    assert.ok(take(slow, join(dir, "z")));
    addon.stopListAhead(slow);
  });

  it("stops at once and frees what it holds; paths that are not directories are left out", async () => {
    const h = addon.listAhead([Buffer.from(join(dir, "missing")), Buffer.from(join(dir, "a/file.txt")), Buffer.from(dir)], 1 << 20);
    await queued(h, 6);
    assert.equal(addon.listAheadStatus(h).listed, 6);
    addon.stopListAhead(h);
    assert.equal(take(h, dir), undefined);
    assert.deepEqual(addon.listAheadStatus(h), { listed: 0, held: 0, finished: true });
    assert.throws(() => addon.listAhead("nope" as unknown as Buffer[], 1), /listAhead\(roots: Buffer\[\], maxBytes: number\)/);
  });

  it("a backup's walk takes every listing, and records what it records without them", async () => {
    const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
    const first = await backup(repo, { paths: [dir], parent: false });
    assert.deepEqual(listAheadState(), { running: false, last: { taken: 6, missed: 0 } });
    const prepared = prepareBackup([dir]);
    const filtered = await backup(repo, { paths: [dir], parent: false, filters: { excludes: ["a"] } });
    await prepared.cancel();
    assert.deepEqual(listAheadState(), { running: false, last: { taken: 3, missed: 0 } });
    assert.equal(filtered.summary.files_new, 0);
    const again = await backup(repo, { paths: [dir], parent: first.snapshot!.id });
    assert.equal(again.summary.files_unmodified, 2);
    // The trees of `dir` (the root tree above records /tmp, which tests running in parallel change).
    assert.equal(await subtreeOf(repo, again.snapshot!.tree, dir), await subtreeOf(repo, first.snapshot!.tree, dir));
  });

  it("cancelling a prepared backup stops the thread", async () => {
    const p = prepareBackup([dir]);
    assert.equal(listAheadState().running, true);
    await p.cancel();
    assert.equal(listAheadState().running, false);
  });
});
