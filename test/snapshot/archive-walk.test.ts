import assert from "node:assert/strict";
import { appendFileSync, chmodSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { decodeTree } from "../../src/snapshot/tree.js";

/** The tree id of `path` in a snapshot's tree. */
async function subtreeAt(repo: Repository, treeId: string, path: string): Promise<string | undefined> {
  let id: string | undefined = treeId;
  for (const p of path.split("/").filter(Boolean)) {
    if (id === undefined) return undefined;
    const t = decodeTree(await repo.loadBlob("tree", Buffer.from(id, "hex")));
    id = t.nodes.find((n) => n.name === p)?.subtree;
  }
  return id;
}

/**
 * A backup that compares with its parent must store exactly the trees a backup that reads
 * everything stores: the comparison only decides what can be skipped, never what is written.
 */
describe("backup against a parent snapshot", () => {
  let dir: string;
  let repo: Repository;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-walk-"));
    for (let d = 0; d < 6; d++) {
      mkdirSync(join(dir, `d${d}/sub/deeper`), { recursive: true });
      for (let f = 0; f < 4; f++) writeFileSync(join(dir, `d${d}/f${f}.txt`), `file ${d}/${f}\n`);
      writeFileSync(join(dir, `d${d}/sub/deeper/leaf`), `leaf ${d}`);
    }
    mkdirSync(join(dir, "empty"));
    symlinkSync("d0/f0.txt", join(dir, "link"));
    writeFileSync(join(dir, Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74]).toString("latin1")), "x");
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x72, 0x61, 0x77, 0xfe])]), "raw name");
    writeFileSync(join(dir, "\u00e9t\u00e9.txt"), "summer");
    writeFileSync(join(dir, "\ufeffbom.txt"), "byte order mark");
    writeFileSync(join(dir, "hard1"), "linked");
    linkSync(join(dir, "hard1"), join(dir, "hard2"));
    repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function both(): Promise<{ withParent: string | undefined; fresh: string | undefined; summary: Awaited<ReturnType<typeof backup>>["summary"] }> {
    const a = await backup(repo, { paths: [dir] });
    const b = await backup(repo, { paths: [dir], parent: false });
    return { withParent: await subtreeAt(repo, a.snapshot!.tree, dir), fresh: await subtreeAt(repo, b.snapshot!.tree, dir), summary: a.summary };
  }

  it("an unchanged tree is reused whole, every directory as it was", async () => {
    await backup(repo, { paths: [dir] });
    const r = await both();
    assert.ok(r.withParent);
    assert.equal(r.withParent, r.fresh);
    assert.equal(r.summary.files_unmodified, r.summary.files_total);
    assert.equal(r.summary.dirs_changed, 0);
    assert.equal(r.summary.dirs_new, 0);
    assert.equal(r.summary.bytes_read, 0);
    const top = decodeTree(await repo.loadBlob("tree", Buffer.from(r.withParent, "hex")));
    assert.ok(top.nodes.some((n) => n.name === "\ufeffbom.txt" && n.name_raw === undefined), "a leading byte order mark is kept in the name");
  });

  const changes: [string, () => void][] = [
    ["a file's content", () => appendFileSync(join(dir, "d1/f2.txt"), "more\n")],
    ["a file's mode only", () => chmodSync(join(dir, "d2/f0.txt"), 0o600)],
    ["a directory's mode", () => chmodSync(join(dir, "d3/sub"), 0o700)],
    ["a file's mtime only", () => utimesSync(join(dir, "d4/sub/deeper/leaf"), new Date(1_000_000), new Date(2_000_000))],
    ["a new file deep down", () => writeFileSync(join(dir, "d5/sub/deeper/new"), "new")],
    ["a deleted file", () => unlinkSync(join(dir, "d0/f3.txt"))],
    ["a renamed directory", () => renameSync(join(dir, "d2/sub"), join(dir, "d2/sub2"))],
    ["a symlink's target", () => {
      unlinkSync(join(dir, "link"));
      symlinkSync("d1/f1.txt", join(dir, "link"));
    }],
    ["a file replaced by a directory", () => {
      unlinkSync(join(dir, "d3/f1.txt"));
      mkdirSync(join(dir, "d3/f1.txt"));
    }],
    ["a hard link removed", () => unlinkSync(join(dir, "hard2"))],
    ["an empty directory filled", () => writeFileSync(join(dir, "empty/now"), "")],
  ];
  for (const [what, change] of changes) {
    it(`after a change of ${what}, stores what a full read stores`, async () => {
      change();
      const r = await both();
      assert.ok(r.withParent);
      assert.equal(r.withParent, r.fresh);
      assert.ok(r.summary.dirs_unmodified > 0, "the untouched directories are reused");
    });
  }
});

describe("backup of a local repository against a large parent", () => {
  // Enough directories that the parent's trees are read ahead by a worker (tree-prefetch.ts).
  let dir: string;
  let root: string;
  let repo: Repository;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-walk-big-"));
    root = mkdtempSync(join(tmpdir(), "coffer-walk-repo-"));
    for (let a = 0; a < 20; a++) {
      for (let b = 0; b < 16; b++) {
        mkdirSync(join(dir, `a${a}/b${b}`), { recursive: true });
        writeFileSync(join(dir, `a${a}/b${b}/f`), `${a}/${b}`);
      }
    }
    const { LocalBackend } = await import("../../src/backend/local.js");
    repo = await Repository.init(new LocalBackend(join(root, "repo")), { password: "pw", kdf: TEST_KDF });
    await backup(repo, { paths: [dir] });
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  it("reuses every tree read ahead when nothing changed", async () => {
    const r = await backup(repo, { paths: [dir] });
    assert.equal(r.summary.files_unmodified, 320);
    assert.equal(r.summary.dirs_changed, 0);
    assert.equal(r.summary.bytes_read, 0);
  });

  it("skips the trees of directories that are gone or excluded, and finds the rest", async () => {
    rmSync(join(dir, "a3"), { recursive: true });
    writeFileSync(join(dir, "a7/b2/f"), "changed");
    const r = await backup(repo, { paths: [dir], filters: { excludes: ["a1[0-4]"] } });
    assert.equal(r.summary.files_changed, 1);
    assert.equal(r.summary.files_unmodified, 320 - 16 - 5 * 16 - 1);
    assert.equal(r.summary.bytes_read, "changed".length);
    const fresh = await backup(repo, { paths: [dir], filters: { excludes: ["a1[0-4]"] }, parent: false });
    assert.equal(await subtreeAt(repo, r.snapshot!.tree, dir), await subtreeAt(repo, fresh.snapshot!.tree, dir));
  });
});
