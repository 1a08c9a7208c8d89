// Regression tests for damaged archives given to verify-archive and import: a corrupted byte in
// a ZIP entry, truncated ZIP and tar streams (plain, gzip, zstd), a damaged tar header, and a
// manifest whose hash does not match. Each must name the damaged file, exit 1, and (import)
// write no snapshot, leaving a repository that checks clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.js";
import { type CofferError, isCofferError } from "../../src/core/errors.js";
import type { ArchiveManifest } from "../../src/ops/archive-manifest.js";
import { check } from "../../src/ops/check.js";
import { importArchive } from "../../src/ops/import.js";
import { verifyArchive } from "../../src/ops/verify-archive.js";
import { ZipReader } from "../../src/snapshot/zip-reader.js";
import { fakeIO } from "../cli/fake-io.js";
import { type ArchiveFixture, extract, makeArchiveFixture } from "../ops/archive-fixture.js";

async function cli(f: ArchiveFixture, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIO({ env: { HOME: join(f.dir, "home"), COFFER_REPOSITORY: join(f.dir, "repo"), COFFER_PASSWORD: "pw" } });
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** Runs import through the CLI and the library; both must fail naming `path` and write nothing. */
async function importFails(f: ArchiveFixture, file: string, path: string): Promise<void> {
  const before = await f.repo.listIds("snapshot");
  const res = await cli(f, ["import", file]);
  assert.equal(res.code, 1, res.err);
  assert.ok(res.err.includes(path), res.err);
  assert.match(res.err, /no snapshot was written/);
  const err = await importArchive(f.repo, { input: file }).catch((e: unknown) => e);
  assert.ok(isCofferError(err, "CORRUPT"), String(err));
  assert.equal((err as CofferError).data.path, path);
  assert.deepEqual(await f.repo.listIds("snapshot"), before);
  const c = await check(f.repo);
  assert.equal(c.ok, true, JSON.stringify(c.errors));
}

test("a corrupted byte in a ZIP entry: verify-archive and import name the file", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.zip");
    const z = await ZipReader.open(file);
    const e = z.find("app/sub/notes.txt")!;
    await z.close();
    const bytes = await readFile(file);
    const data = e.localOffset + 30 + bytes.readUInt16LE(e.localOffset + 26) + bytes.readUInt16LE(e.localOffset + 28);
    const at = data + Math.floor(e.compressedSize / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x10;
    await writeFile(file, bytes);

    const r = await verifyArchive(file);
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems.map((p) => `${p.kind} ${p.path}`), ["damaged app/sub/notes.txt"]);
    assert.equal(r.files, 6, "the other entries were still checked");
    const res = await cli(f, ["verify-archive", file]);
    assert.equal(res.code, 1);
    assert.match(res.out, /^damaged: app\/sub\/notes\.txt: /m);
    assert.match(res.err, /does not verify/);
    await importFails(f, file, "app/sub/notes.txt");
  } finally {
    await f.cleanup();
  }
});

test("a truncated ZIP: the entry that is cut short is named", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.zip", { level: 0 });
    const z = await ZipReader.open(file);
    const e = z.find("app/big.bin")!;
    await z.close();
    await truncate(file, e.localOffset + 1_000_000);
    const r = await verifyArchive(file);
    assert.deepEqual(r.problems.map((p) => `${p.kind} ${p.path}`), ["truncated app/big.bin"]);
    assert.equal(spawnSync("unzip", ["-t", file]).status !== 0, true);
    await importFails(f, file, "app/big.bin");
  } finally {
    await f.cleanup();
  }
});

for (const name of ["snap.tar", "snap.tar.gz", "snap.tar.zst"]) {
  test(`a truncated ${name}: the file it ends in is named`, async () => {
    const f = await makeArchiveFixture();
    try {
      const { file } = await f.exportTo(name, { level: 1 });
      // big.bin is random, so compressed or not it takes about the same room: cut in its middle.
      const tar = spawnSync("sh", ["-c", name === "snap.tar" ? `cat "$0"` : name.endsWith("gz") ? `gzip -dc "$0"` : `zstd -dc "$0"`, file], { maxBuffer: 1 << 26 }).stdout;
      const at = tar.indexOf(Buffer.from("app/big.bin\0"));
      assert.ok(at > 0);
      const bytes = await readFile(file);
      const cut = name === "snap.tar" ? at + 512 + 1_300_000 : Math.floor(bytes.length / 2);
      await truncate(file, cut);
      const r = await verifyArchive(file);
      assert.equal(r.ok, false);
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
      assert.equal(r.problems[0]?.path, "app/big.bin");
      assert.ok(["truncated", "damaged"].includes(r.problems[0]?.kind ?? ""));
      await importFails(f, file, "app/big.bin");
    } finally {
      await f.cleanup();
    }
  });
}

test("a damaged tar header stops verification and import", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.tar");
    const bytes = await readFile(file);
    const at = bytes.indexOf(Buffer.from("app/run.sh\0"));
    bytes[at + 4] = 0x58; // "app/Xun.sh": the checksum no longer matches
    await writeFile(file, bytes);
    const r = await verifyArchive(file);
    assert.equal(r.ok, false);
    assert.equal(r.problems[0]?.kind, "damaged");
    assert.match(r.problems[0]?.message ?? "", /damaged header after app\/notes-hardlink\.txt \(it may have been app\/Xun\.sh\)/);
    const err = await importArchive(f.repo, { input: file }).catch((e: unknown) => e);
    assert.ok(isCofferError(err, "CORRUPT"));
    assert.match((err as Error).message, /no snapshot was written/);
  } finally {
    await f.cleanup();
  }
});

for (const name of ["snap.tar", "snap.zip"]) {
  test(`a manifest hash that does not match (${name}): verify names the file, import writes nothing`, async () => {
    const f = await makeArchiveFixture();
    try {
      const { file } = await f.exportTo(name);
      const out = await extract(file, join(f.dir, "out"));
      const m = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as ArchiveManifest;
      const entry = m.files.find((x) => x.path === "app/data.log")!;
      entry.sha256 = "0".repeat(64);
      await writeFile(join(out, "manifest.json"), JSON.stringify(m, null, 2));
      const edited = join(f.dir, `edited-${name}`);
      const made = name.endsWith(".zip")
        ? spawnSync("zip", ["-q", "-r", "-y", edited, "app", "manifest.json"], { cwd: out })
        : spawnSync("tar", ["-c", "-f", edited, "app", "manifest.json"], { cwd: out }); // manifest last, as coffer writes it
      assert.equal(made.status, 0);
      const r = await verifyArchive(edited);
      assert.deepEqual(r.problems.map((p) => `${p.kind} ${p.path}`), ["hash app/data.log"]);
      const res = await cli(f, ["verify-archive", edited]);
      assert.equal(res.code, 1);
      assert.match(res.err, /does not verify: hash: app\/data\.log has SHA-256 [0-9a-f]{64}; the manifest says 0{64}\./);
      await importFails(f, edited, "app/data.log");
    } finally {
      await f.cleanup();
    }
  });
}
