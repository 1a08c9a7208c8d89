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
import { decodeTree } from "../../src/snapshot/tree.js";
import { loadNative } from "../../src/snapshot/native.js";
import { dropPrelisted, prelistedCount, startPrelist, stopPrelist, takePrelisted } from "../../src/snapshot/prelist.js";

/** Waits (a turn of the event loop at a time) until `n` directories are listed ahead. */
async function listed(n: number): Promise<void> {
  for (let i = 0; i < 10_000 && prelistedCount() < n; i++) await new Promise((r) => setImmediate(r));
  assert.equal(prelistedCount(), n);
}

async function subtreeOf(repo: Repository, tree: string, path: string): Promise<string | undefined> {
  let id: string | undefined = tree;
  for (const part of path.split("/").filter(Boolean)) {
    const t = decodeTree(await repo.loadBlob("tree", Buffer.from(id!, "hex")));
    id = t.nodes.find((n) => n.name === part)?.subtree;
  }
  return id;
}

const names = (listing: Buffer | undefined, dir: string): string[] => parseListing(listing!, Buffer.from(dir)).map((e) => e.name.toString()).sort();

describe("listing ahead while the key is derived", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-prelist-"));
    mkdirSync(join(dir, "a/b"), { recursive: true });
    mkdirSync(join(dir, "a/c"));
    mkdirSync(join(dir, "z"));
    writeFileSync(join(dir, "a/file.txt"), "x");
    writeFileSync(join(dir, "a/c/deep.txt"), "y");
    symlinkSync(join(dir, "a"), join(dir, "link-to-a"));
  });
  after(() => {
    dropPrelisted();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses the native addon's listing where it is built", () => {
    assert.equal(typeof loadNative()?.scandir, "function");
  });

  it("lists every directory of the tree once, not through symlinks, and gives each listing out once", async () => {
    startPrelist([`${dir}/`]);
    await listed(5); // dir, a, a/b, a/c, z
    stopPrelist();
    assert.deepEqual(names(takePrelisted(Buffer.from(join(dir, "a"))), join(dir, "a")), ["b", "c", "file.txt"]);
    assert.equal(takePrelisted(Buffer.from(join(dir, "a"))), undefined, "given out once");
    assert.deepEqual(names(takePrelisted(Buffer.from(dir)), dir), ["a", "link-to-a", "z"]);
    assert.deepEqual(names(takePrelisted(Buffer.from(join(dir, "a/c"))), join(dir, "a/c")), ["deep.txt"]);
    assert.equal(takePrelisted(Buffer.from(join(dir, "link-to-a"))), undefined);
    assert.equal(prelistedCount(), 2);
    dropPrelisted();
    assert.equal(prelistedCount(), 0);
    assert.equal(takePrelisted(Buffer.from(join(dir, "z"))), undefined);
  });

  it("lists nothing once stopped, and ignores paths that are missing or not directories", async () => {
    startPrelist([dir]);
    stopPrelist();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(prelistedCount(), 0);
    startPrelist([join(dir, "missing"), join(dir, "a/file.txt")]);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(prelistedCount(), 0);
    dropPrelisted();
  });

  it("a backup prepared with the paths takes the listings and records what an unprepared one does", async () => {
    const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
    const plain = await backup(repo, { paths: [dir], parent: false });
    const prepared = prepareBackup([dir]);
    await listed(5);
    const r = await backup(repo, { paths: [dir], parent: false, filters: { excludes: ["z"] } });
    assert.equal(prelistedCount(), 0, "taken by the walk, or dropped (the excluded z)");
    await prepared.cancel();
    assert.equal(r.summary.files_new, 2);
    assert.equal(r.summary.dirs_new + r.summary.dirs_unmodified + r.summary.dirs_changed, plain.summary.dirs_new - 1);
    const again = prepareBackup([dir]);
    await listed(5);
    const same = await backup(repo, { paths: [dir], parent: false });
    await again.cancel();
    // The trees of `dir` (the root tree above records /tmp, which tests running in parallel change).
    assert.equal(await subtreeOf(repo, same.snapshot!.tree, dir), await subtreeOf(repo, plain.snapshot!.tree, dir));
  });

  it("cancelling a prepared backup drops what was listed", async () => {
    const p = prepareBackup([dir]);
    await listed(5);
    await p.cancel();
    assert.equal(prelistedCount(), 0);
  });
});
