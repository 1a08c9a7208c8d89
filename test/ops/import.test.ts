import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Warning } from "../../src/core/warning.js";
import { importArchive } from "../../src/ops/import.js";
import type { Repository } from "../../src/repository/repository.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { TarWriter } from "../../src/snapshot/tar-writer.js";
import type { TreeNode } from "../../src/snapshot/tree.js";
import { walkTree } from "../../src/snapshot/walker.js";
import { makeArchiveFixture } from "./archive-fixture.js";
import { snapshotFiles } from "./fixture.js";

/** path → the node fields an archive keeps (times to the second for directories). */
async function nodes(repo: Repository, snap: SnapshotWithId, exactDirTimes = true): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  await walkTree(repo, snap.tree, (e) => {
    const n: TreeNode = e.node;
    const mtime = n.type === "file" || exactDirTimes ? n.mtime : n.mtime.slice(0, 19);
    out.set(e.path, { type: n.type, mode: n.mode, size: n.type === "file" ? n.size : 0, mtime: n.type === "symlink" ? undefined : mtime, content: n.content, linktarget: n.linktarget, uid: n.uid });
  });
  return out;
}

for (const name of ["snap.zip", "snap.tar", "snap.tar.gz", "snap.tar.zst"]) {
  test(`import of a coffer ${name} gives back the snapshot's files, paths and metadata`, async () => {
    const f = await makeArchiveFixture();
    try {
      const { file } = await f.exportTo(name);
      const before = await f.repo.listIds("snapshot");
      const r = await importArchive(f.repo, { input: file });
      assert.equal(r.verified, true);
      assert.equal(r.exportedFrom, f.snapshot.id);
      assert.equal(r.files, 7);
      assert.equal(r.root, join(f.dir, "src"));
      const s = r.snapshot;
      assert.equal(s.kind, "import");
      assert.deepEqual(s.paths, [f.src]);
      assert.equal(s.time, f.snapshot.time);
      assert.equal(s.hostname, f.snapshot.hostname);
      assert.deepEqual(s.tags, ["nightly"]);
      assert.equal(s.label, "fixture");
      assert.equal((await f.repo.listIds("snapshot")).length, before.length + 1);
      // Same content, deduplicated: the blobs are the ones the backup stored.
      assert.deepEqual(await snapshotFiles(f.repo, s.id), await snapshotFiles(f.repo, f.snapshot.id));
      assert.ok((s.summary?.bytes_added ?? 0) < 20_000, "only new trees were stored");
      const got = await nodes(f.repo, s, !name.endsWith(".zip"));
      const want = await nodes(f.repo, f.snapshot, !name.endsWith(".zip"));
      // The directories above the backed-up path are made up by the import.
      for (const m of [got, want]) for (const p of [...m.keys()]) if (!p.startsWith(f.src)) m.delete(p);
      assert.deepEqual(got, want);
    } finally {
      await f.cleanup();
    }
  });
}

test("import --as, tags, label, host and time; a hard link in a tar is a hard link again", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.tar");
    const time = new Date("2027-01-01T00:00:00Z");
    const r = await importArchive(f.repo, { input: file, as: "/restored/here", tags: ["imported"], label: "copy", host: "elsewhere", time, description: "from the vault" });
    const s = r.snapshot;
    assert.deepEqual(s.paths, ["/restored/here"]);
    assert.deepEqual(s.tags, ["nightly", "imported"]);
    assert.equal(s.label, "copy");
    assert.equal(s.description, "from the vault");
    assert.equal(s.hostname, "elsewhere");
    assert.equal(s.time, time.toISOString());
    const files = await snapshotFiles(f.repo, s.id);
    assert.ok(files.has("/restored/here/app/big.bin"));
    const all = await nodes(f.repo, s);
    const a = all.get("/restored/here/app/notes-hardlink.txt") as { content: string[] };
    const b = all.get("/restored/here/app/sub/notes.txt") as { content: string[] };
    assert.deepEqual(a.content, b.content);
    const links: number[] = [];
    await walkTree(f.repo, s.tree, (e) => {
      if (e.node.name === "notes.txt" || e.node.name === "notes-hardlink.txt") links.push(e.node.links);
    });
    assert.deepEqual(links, [2, 2]);
  } finally {
    await f.cleanup();
  }
});

test("a foreign ZIP (with a manifest.json of its own) goes under /import/<name>", async () => {
  const f = await makeArchiveFixture();
  try {
    const src = join(f.dir, "mhm");
    await mkdir(join(src, "users", "u1"), { recursive: true });
    await writeFile(join(src, "users", "u1", "account.json"), '{"name":"u1"}\n');
    await writeFile(join(src, "manifest.json"), '{"backup_name":"weekly","created_at":"2025-12-17 12:00:00","includes":{"users":true}}\n');
    const zip = join(f.dir, "mhm_backup_20251217_120000.zip");
    assert.equal(spawnSync("zip", ["-q", "-r", zip, "."], { cwd: src }).status, 0);
    const r = await importArchive(f.repo, { input: zip });
    assert.equal(r.verified, false);
    assert.equal(r.root, "/import/mhm_backup_20251217_120000");
    assert.deepEqual(r.snapshot.paths, ["/import/mhm_backup_20251217_120000"]);
    assert.equal(r.snapshot.description, "imported from mhm_backup_20251217_120000.zip");
    const files = await snapshotFiles(f.repo, r.snapshot.id);
    assert.deepEqual([...files.keys()].sort(), ["/import/mhm_backup_20251217_120000/manifest.json", "/import/mhm_backup_20251217_120000/users/u1/account.json"]);
    assert.match(files.get("/import/mhm_backup_20251217_120000/manifest.json")?.toString() ?? "", /weekly/);
  } finally {
    await f.cleanup();
  }
});

test("a tar from a stream; entries that lead out of the archive are refused", async () => {
  const f = await makeArchiveFixture();
  try {
    const parts: Buffer[] = [];
    const tar = new TarWriter({ write: (c) => void parts.push(Buffer.from(c)) });
    await tar.add({ path: "ok.txt", type: "file", mode: 0o644, mtimeNs: 0n, size: 3 }, Buffer.from("ok\n"));
    await tar.add({ path: "../evil.txt", type: "file", mode: 0o644, mtimeNs: 0n, size: 5 }, Buffer.from("evil\n"));
    await tar.add({ path: "a/b/c.txt", type: "file", mode: 0o600, mtimeNs: 1_600_000_000_500_000_000n, size: 2 }, Buffer.from("c\n"));
    await tar.finish();
    const file = join(f.dir, "x.tar");
    await writeFile(file, Buffer.concat(parts));
    const warnings: Warning[] = [];
    const r = await importArchive(f.repo, { input: createReadStream(file), onWarning: (w) => warnings.push(w) });
    assert.equal(r.root, "/import/stdin");
    assert.deepEqual(warnings.map((w) => w.code), ["UNSAFE_PATH"]);
    const files = await snapshotFiles(f.repo, r.snapshot.id);
    assert.deepEqual([...files.keys()].sort(), ["/import/stdin/a/b/c.txt", "/import/stdin/ok.txt"]);
    const all = await nodes(f.repo, r.snapshot);
    assert.deepEqual(all.get("/import/stdin/a/b/c.txt"), { type: "file", mode: 0o600, size: 2, mtime: "2020-09-13T12:26:40.500000000Z", content: (all.get("/import/stdin/a/b/c.txt") as { content: string[] }).content, linktarget: undefined, uid: 0 });
    // Directories the tar does not list are made with default metadata.
    assert.equal((all.get("/import/stdin/a") as { type: string; mode: number }).mode, 0o755);
  } finally {
    await f.cleanup();
  }
});
