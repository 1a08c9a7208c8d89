import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../src/backend/memory.js";
import { backup } from "../../src/snapshot/archiver.js";
import { diffTrees, type TreeChange } from "../../src/snapshot/diff.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "coffer-diff-"));
  const src = join(dir, "src");
  await mkdir(join(src, "same", "inner"), { recursive: true });
  await mkdir(join(src, "gone"));
  for (let i = 0; i < 20; i++) await mkdir(join(src, "same", `d${i}`));
  await writeFile(join(src, "same", "inner", "keep.txt"), "keep");
  await writeFile(join(src, "gone", "old.txt"), "old contents");
  await writeFile(join(src, "modified.txt"), "version one");
  await writeFile(join(src, "meta.txt"), "same content");
  await writeFile(join(src, "becomes-dir"), "a file first");
  await writeFile(join(src, "removed.txt"), "bye");
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
  const a = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  // Same time on both sides of the change keeps the parent dir's mtime out of the picture.
  await writeFile(join(src, "modified.txt"), "version two!");
  await chmod(join(src, "meta.txt"), 0o600);
  await rm(join(src, "becomes-dir"));
  await mkdir(join(src, "becomes-dir"));
  await writeFile(join(src, "becomes-dir", "child.txt"), "child");
  await rm(join(src, "removed.txt"));
  await rm(join(src, "gone"), { recursive: true });
  await mkdir(join(src, "fresh", "sub"), { recursive: true });
  await writeFile(join(src, "fresh", "sub", "new.txt"), "brand new");
  const t = new Date("2026-01-01T00:00:00Z");
  await utimes(src, t, t);
  const b = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  return { dir, src, repo, a, b, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("diffTrees lists added, removed, modified, type and metadata changes with totals", async () => {
  const s = await setup();
  try {
    const r = await diffTrees(s.repo, s.a.tree, s.b.tree);
    const rel = (c: TreeChange) => `${c.change} ${c.path.slice(s.src.length)}`;
    const got = r.changes.map(rel).filter((x) => !x.endsWith(" ")); // the src dir itself: its mtime changed
    assert.deepEqual(got, [
      "type /becomes-dir",
      "added /becomes-dir/child.txt",
      "added /fresh",
      "added /fresh/sub",
      "added /fresh/sub/new.txt",
      "removed /gone",
      "removed /gone/old.txt",
      "metadata /meta.txt",
      "modified /modified.txt",
      "removed /removed.txt",
    ]);
    const t = r.totals;
    assert.equal(t.filesAdded, 2);
    assert.equal(t.filesRemoved, 2);
    assert.equal(t.filesModified, 1);
    assert.equal(t.dirsAdded, 2);
    assert.equal(t.dirsRemoved, 1);
    assert.equal(t.typeChanged, 1);
    assert.ok(t.metadataChanged >= 1);
    // Added: child, new, version two, and the old file turned directory is gone.
    assert.equal(t.bytesAdded, "child".length + "brand new".length + "version two!".length);
    assert.equal(t.bytesRemoved, "old contents".length + "version one".length + "a file first".length + "bye".length);
    assert.equal(t.blobsAdded, 3);
    const mod = r.changes.find((c) => c.change === "modified")!;
    assert.equal(mod.before?.size, 11);
    assert.equal(mod.after?.size, 12);
  } finally {
    await s.cleanup();
  }
});

test("diffTrees does not open subtrees that are the same in both snapshots", async () => {
  const s = await setup();
  try {
    let trees = 0;
    const counting = {
      index: s.repo.index,
      loadBlob: (type: "data" | "tree", id: Buffer) => {
        if (type === "tree") trees++;
        return s.repo.loadBlob(type, id);
      },
    };
    await diffTrees(counting, s.a.tree, s.b.tree);
    // The path down to src (one tree per level, both sides), plus fresh, fresh/sub, gone and
    // becomes-dir: nothing of "same" and its 21 subdirectories.
    const depth = s.src.split("/").filter(Boolean).length;
    assert.ok(trees <= 2 * depth + 6, `loaded ${trees} trees`);
    trees = 0;
    const same = await diffTrees(counting, s.a.tree, s.a.tree);
    assert.equal(same.changes.length, 0);
    assert.equal(trees, 0);
  } finally {
    await s.cleanup();
  }
});

test("diffTrees streams changes to onChange instead of collecting them", async () => {
  const s = await setup();
  try {
    const streamed: string[] = [];
    const r = await diffTrees(s.repo, s.a.tree, s.b.tree, { onChange: (c) => void streamed.push(c.path) });
    assert.equal(r.changes.length, 0);
    assert.ok(streamed.length >= 10);
    const reverse = await diffTrees(s.repo, s.b.tree, s.a.tree);
    assert.equal(reverse.totals.filesAdded, r.totals.filesRemoved);
    assert.equal(reverse.totals.bytesAdded, r.totals.bytesRemoved);
  } finally {
    await s.cleanup();
  }
});
