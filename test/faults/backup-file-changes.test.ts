import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Repository } from "../../src/repository/repository.js";
import { decodeTree, type TreeNode } from "../../src/snapshot/tree.js";
import { checkRepo, restoreSnapshot, type Sandbox, sandbox, sleep, snapshots } from "./fault-helpers.js";

/**
 * A file that grows while it is backed up (a log being written) is re-read once, then
 * recorded as it was read, with a CHANGED warning. What the snapshot records must be
 * consistent with itself: the node's size is the length of its content (a restore writes
 * exactly `size` bytes), those bytes are a prefix of the file (appends only), and
 * `check --read-data` passes.
 */
const SIZE = 40 * 1024 * 1024;

async function nodeAt(repo: Repository, tree: string, path: string): Promise<TreeNode> {
  let id = tree;
  const parts = path.split("/").filter(Boolean);
  for (const [i, name] of parts.entries()) {
    const t = decodeTree(await repo.loadBlob("tree", Buffer.from(id, "hex")));
    const n = t.nodes.find((x) => x.name === name);
    assert.ok(n, `${name} is in the snapshot`);
    if (i === parts.length - 1) return n;
    assert.ok(n.subtree);
    id = n.subtree;
  }
  throw new Error("empty path");
}

function sha256Prefix(path: string, length: number): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let done = 0; done < length; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), done);
      assert.ok(n > 0, "the file is at least as long as the snapshot says");
      h.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

describe("backup of a file that grows while it is read", { timeout: 180_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("file-changes");
  });
  after(() => sb.cleanup());

  it("warns CHANGED and records a consistent snapshot of the bytes it read", async () => {
    const file = join(sb.src, "growing.log");
    writeFileSync(file, randomBytes(SIZE));
    writeFileSync(join(sb.src, "steady.txt"), "does not change\n");
    // Appends 64 KiB every 10 ms (far slower than a backup reads) until killed.
    const appender = spawn(
      process.execPath,
      ["-e", `const fs=require("fs"),c=require("crypto");const fd=fs.openSync(${JSON.stringify(file)},"a");setInterval(()=>fs.writeSync(fd,c.randomBytes(65536)),10);`],
      { stdio: "ignore" },
    );
    let r;
    try {
      while (statSync(file).size === SIZE) await sleep(10);
      r = await sb.cli(["--json", "backup", sb.src]);
    } finally {
      appender.kill("SIGKILL");
      await new Promise((res) => appender.once("close", res));
    }
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out) as { snapshot_id: string; warnings: { code: string; path?: string }[] };
    assert.ok(
      json.warnings.some((w) => w.code === "CHANGED" && w.path === file),
      `a CHANGED warning names the file: ${JSON.stringify(json.warnings)}`,
    );
    assert.match(r.err, /growing\.log/, "the warning is printed too");

    const [snap] = await snapshots(sb);
    assert.ok(snap);
    const repo = await sb.open();
    let node: TreeNode;
    try {
      await repo.loadIndex();
      node = await nodeAt(repo, snap.tree, file);
    } finally {
      await repo.close();
    }
    assert.ok(node.size >= SIZE, `the node records at least the bytes there were before (${node.size})`);

    const target = join(sb.dir, "restored");
    const res = await restoreSnapshot(sb, snap.id, target);
    assert.deepEqual(res.errors, []);
    const restored = join(target, file);
    const restoredBytes = readFileSync(restored);
    // A full data check stamps (rewrites) the snapshots it verified: after the restore.
    const c = await checkRepo(sb, { readData: true });
    assert.equal(c.code, 0, c.text);
    assert.equal(createHash("sha256").update(restoredBytes).digest("hex"), sha256Prefix(file, restoredBytes.length), "the restored bytes are the file's first bytes");
    assert.equal(readFileSync(join(target, sb.src, "steady.txt"), "utf8"), "does not change\n");
    assert.equal(restoredBytes.length, node.size, `the restored file is as long as the snapshot's node says (node.size ${node.size}, content ${restoredBytes.length})`);
  });
});
