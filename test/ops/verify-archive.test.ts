import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { appendFile, chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ArchiveManifest } from "../../src/ops/archive-manifest.js";
import { verifyArchive } from "../../src/ops/verify-archive.js";
import { extract, makeArchiveFixture } from "./archive-fixture.js";

for (const name of ["snap.zip", "snap.tar", "snap.tar.gz", "snap.tar.zst"]) {
  test(`a fresh ${name} verifies`, async () => {
    const f = await makeArchiveFixture();
    try {
      const { file } = await f.exportTo(name);
      const r = await verifyArchive(file);
      assert.deepEqual(r.problems, []);
      assert.equal(r.ok, true);
      assert.equal(r.complete, true);
      assert.equal(r.files, 7);
      assert.equal(r.manifest?.snapshot.id, f.snapshot.id);
      assert.equal(r.format, name.slice(5));
    } finally {
      await f.cleanup();
    }
  });
}

test("a tar stream (stdin) verifies; its format is recognised from its first bytes", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.tar.zst");
    const r = await verifyArchive(createReadStream(file), { name: "stdin" });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.format, "tar.zst");
  } finally {
    await f.cleanup();
  }
});

test("every difference from the manifest is named: missing, extra, size, hash, mode", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.zip");
    const out = await extract(file, join(f.dir, "out"));
    await writeFile(join(out, "app/sub/deeper/secret.txt"), "S3CR3T\n"); // same size
    await appendFile(join(out, "app/data.log"), "one more line\n");
    await rm(join(out, "app/empty.txt"));
    await writeFile(join(out, "app/new.txt"), "new\n");
    await chmod(join(out, "app/run.sh"), 0o700);
    for (const [tool, args, archive] of [
      ["zip", ["-q", "-r", "-y", join(f.dir, "edited.zip"), "."], join(f.dir, "edited.zip")],
      ["tar", ["-c", "-f", join(f.dir, "edited.tar"), "."], join(f.dir, "edited.tar")],
    ] as const) {
      assert.equal(spawnSync(tool, [...args], { cwd: out }).status, 0);
      const r = await verifyArchive(archive);
      const got = r.problems.map((p) => `${p.kind} ${p.path}`).sort();
      assert.deepEqual(got, ["extra app/new.txt", "hash app/sub/deeper/secret.txt", "missing app/empty.txt", "mode app/run.sh", "size app/data.log"], tool);
      assert.equal(r.ok, false);
      const size = r.problems.find((p) => p.kind === "size");
      assert.equal(size?.expected, 900);
      assert.equal(size?.actual, 914);
      assert.match(r.problems.find((p) => p.kind === "hash")?.message ?? "", /^hash: app\/sub\/deeper\/secret\.txt has SHA-256 [0-9a-f]{64}; the manifest says [0-9a-f]{64}$/);
    }
  } finally {
    await f.cleanup();
  }
});

test("a manifest whose hash for a file was changed: that file is reported", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.tar");
    const out = await extract(file, join(f.dir, "out"));
    const m = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as ArchiveManifest;
    const entry = m.files.find((x) => x.path === "app/big.bin")!;
    entry.sha256 = entry.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    await writeFile(join(out, "manifest.json"), JSON.stringify(m));
    // GNU tar puts manifest.json where its name sorts: before the files (checked when they come).
    assert.equal(spawnSync("tar", ["-c", "--sort=name", "-f", join(f.dir, "edited.tar"), "manifest.json", "app"], { cwd: out }).status, 0);
    const r = await verifyArchive(join(f.dir, "edited.tar"));
    assert.deepEqual(
      r.problems.map((p) => `${p.kind} ${p.path}`),
      ["hash app/big.bin"],
    );
  } finally {
    await f.cleanup();
  }
});

test("an archive without a coffer manifest: structure checked, manifest missing", async () => {
  const f = await makeArchiveFixture();
  try {
    const r0 = spawnSync("zip", ["-q", "-r", "-y", join(f.dir, "plain.zip"), "app"], { cwd: join(f.dir, "src") });
    assert.equal(r0.status, 0);
    const r = await verifyArchive(join(f.dir, "plain.zip"));
    assert.equal(r.ok, false);
    assert.equal(r.files, 7);
    assert.deepEqual(r.problems.map((p) => p.kind), ["no-manifest"]);
  } finally {
    await f.cleanup();
  }
});
