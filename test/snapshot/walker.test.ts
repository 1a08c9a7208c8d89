import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CofferError, isCofferError } from "../../src/core/errors.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { backup } from "../../src/snapshot/archiver.js";
import { lookupPath, walkTree, type WalkEntry } from "../../src/snapshot/walker.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), "coffer-walk-"));
  const src = join(dir, "src");
  await mkdir(join(src, "b", "deep"), { recursive: true });
  await mkdir(join(src, "a"));
  await writeFile(join(src, "a", "one.txt"), "1");
  await writeFile(join(src, "b", "two.txt"), "22");
  await writeFile(join(src, "b", "deep", "three.txt"), "333");
  await writeFile(join(src, "z.txt"), "z");
  await symlink("z.txt", join(src, "link"));
  // A name that is not UTF-8.
  await writeFile(Buffer.concat([Buffer.from(join(src, "bad-")), Buffer.from([0xff])]), "x");
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
  const snap = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  return { dir, src, repo, snap, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("walkTree visits every node depth-first in name order with full snapshot paths", async () => {
  const f = await fixture();
  try {
    const seen: WalkEntry[] = [];
    const r = await walkTree(f.repo, f.snap.tree, (e) => void seen.push(e));
    assert.equal(r.completed, true);
    const paths = seen.map((e) => e.path);
    const rel = paths.filter((p) => p.startsWith(f.src)).map((p) => p.slice(f.src.length));
    assert.deepEqual(rel, ["", "/a", "/a/one.txt", "/b", "/b/deep", "/b/deep/three.txt", "/b/two.txt", "/bad-\xff", "/link", "/z.txt"]);
    // Every ancestor of the source is there, from "/" down.
    const parts = f.src.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) assert.ok(paths.includes("/" + parts.slice(0, i).join("/")));
    assert.equal(seen[0]?.depth, 1);
    // Raw bytes survive for a name that is not UTF-8.
    const bad = seen.find((e) => e.path.endsWith("/bad-\xff"))!;
    assert.deepEqual(bad.pathBytes, Buffer.concat([Buffer.from(`${f.src}/bad-`), Buffer.from([0xff])]));
    for (const e of seen) if (e !== bad) assert.equal(e.pathBytes.toString(), e.path);
  } finally {
    await f.cleanup();
  }
});

test("walkTree: 'skip' leaves out a directory's contents, 'stop' ends the walk, maxDepth limits it", async () => {
  const f = await fixture();
  try {
    const found = await lookupPath(f.repo, f.snap.tree, f.src);
    const opts = { prefix: found.path, prefixBytes: found.pathBytes };
    const skipped: string[] = [];
    await walkTree(f.repo, found.treeId!, (e) => {
      skipped.push(e.path.slice(f.src.length));
      return e.node.name === "b" ? "skip" : undefined;
    }, opts);
    assert.deepEqual(skipped, ["/a", "/a/one.txt", "/b", "/bad-\xff", "/link", "/z.txt"]);

    const stopped: string[] = [];
    const r = await walkTree(f.repo, found.treeId!, (e) => {
      stopped.push(e.path.slice(f.src.length));
      return e.node.name === "deep" ? "stop" : undefined;
    }, opts);
    assert.equal(r.completed, false);
    assert.deepEqual(stopped, ["/a", "/a/one.txt", "/b", "/b/deep"]);

    const top: string[] = [];
    await walkTree(f.repo, found.treeId!, (e) => void top.push(e.path.slice(f.src.length)), { ...opts, maxDepth: 1, prefetch: 0 });
    assert.deepEqual(top, ["/a", "/b", "/bad-\xff", "/link", "/z.txt"]);
  } finally {
    await f.cleanup();
  }
});

test("lookupPath finds directories and files and says clearly what is missing", async () => {
  const f = await fixture();
  try {
    const root = await lookupPath(f.repo, f.snap.tree, "/");
    assert.equal(root.path, "/");
    assert.equal(root.node, undefined);
    assert.equal(root.treeId, f.snap.tree);
    const dir = await lookupPath(f.repo, f.snap.tree, `${f.src}/b/`);
    assert.equal(dir.path, `${f.src}/b`);
    assert.equal(dir.node?.type, "dir");
    assert.ok(dir.treeId);
    const file = await lookupPath(f.repo, f.snap.tree, `${f.src.slice(1)}/b/two.txt`);
    assert.equal(file.node?.type, "file");
    assert.equal(file.treeId, undefined);
    await assert.rejects(lookupPath(f.repo, f.snap.tree, `${f.src}/nope/x`), (err) => isCofferError(err, "NOT_FOUND") && err.message.includes(`${f.src}/nope;`));
    await assert.rejects(lookupPath(f.repo, f.snap.tree, `${f.src}/z.txt/x`), (err) => isCofferError(err, "INVALID"));
    await assert.rejects(lookupPath(f.repo, f.snap.tree, `${f.src}/../x`), (err) => isCofferError(err, "INVALID"));
  } finally {
    await f.cleanup();
  }
});

test("walkTree reports an unreadable subtree through onError and goes on", async () => {
  const f = await fixture();
  try {
    const found = await lookupPath(f.repo, f.snap.tree, f.src);
    const bTree = (await lookupPath(f.repo, f.snap.tree, `${f.src}/b`)).treeId!;
    const broken = {
      loadBlob: async (type: "data" | "tree", id: Buffer) => {
        if (id.toString("hex") === bTree) throw new CofferError("CORRUPT", "damaged");
        return f.repo.loadBlob(type, id);
      },
    };
    await assert.rejects(walkTree(broken, found.treeId!, () => undefined), (err) => isCofferError(err, "CORRUPT"));
    const errors: string[] = [];
    const seen: string[] = [];
    await walkTree(broken, found.treeId!, (e) => void seen.push(e.node.name), { onError: (e) => void errors.push(e.path) });
    assert.deepEqual(errors, ["/b"]);
    assert.ok(seen.includes("z.txt") && !seen.includes("two.txt"));
  } finally {
    await f.cleanup();
  }
});
