// Writes the version-1 fixture repository (test/fixtures/repo-v1/) with the library as built.
//
//   node scripts/make-fixture-repo.mjs [--build DIR] [--out DIR]
//
// DIR defaults: --build dist (the output of `npm run build`), --out test/fixtures/repo-v1.
// Do NOT re-run this to "refresh" the committed fixture: it exists to prove that the current
// code still reads what an older build wrote, so it must stay as that build wrote it. The
// script refuses to write into an existing directory. Re-run it only to make a new fixture
// for a new format version, under a new name (repo-v2, ...), and keep the old one.
//
// Linux only: the source files are written under /tmp/coffer-fixture-v1/data (snapshots keep
// absolute paths, and the compatibility test expects this one), including a file whose name
// is not valid UTF-8.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, lutimes, mkdir, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const build = resolve(opt("--build", "dist"));
const out = resolve(opt("--out", "test/fixtures/repo-v1"));
if (existsSync(out)) {
  console.error(`${out} exists; the fixture must stay as it was written. Choose another --out.`);
  process.exit(1);
}
const lib = (p) => import(pathToFileURL(join(build, "src", p)).href);
const { Repository, LocalBackend, backup, PROGRAM } = await lib("index.js");
const { TEST_KDF } = await lib("crypto/kdf.js");

const PASSWORD = "coffer-fixture-v1";
const SRC_TOP = "/tmp/coffer-fixture-v1";
const SRC = join(SRC_TOP, "data");

/** 4096 incompressible bytes: SHA-256("coffer-fixture-random-" + i) for i = 0 .. 127, concatenated. */
function randomBin() {
  const parts = [];
  for (let i = 0; i < 128; i++) parts.push(createHash("sha256").update(`coffer-fixture-random-${i}`).digest());
  return Buffer.concat(parts);
}

/** About 2.4 KiB of compressible text: lines "line i: the quick brown fox jumps over the lazy dog\n", i = 0 .. 39. */
function readme() {
  let s = "";
  for (let i = 0; i < 40; i++) s += `line ${i}: the quick brown fox jumps over the lazy dog\n`;
  return s;
}

const LATIN1_NAME = Buffer.from("caf\xe9.txt", "latin1"); // "café.txt" in ISO-8859-1: not UTF-8
const MTIME = new Date("2025-12-31T12:00:00Z");

await rm(SRC_TOP, { recursive: true, force: true });
await mkdir(join(SRC, "notes"), { recursive: true });
await mkdir(join(SRC, "empty-dir"));
await writeFile(join(SRC, "hello.txt"), "hello, coffer\n");
await writeFile(join(SRC, "empty.txt"), "");
await writeFile(join(SRC, "notes", "readme.md"), readme());
await writeFile(join(SRC, "random.bin"), randomBin());
await writeFile(join(SRC, "exec.sh"), "#!/bin/sh\necho hi\n");
await chmod(join(SRC, "exec.sh"), 0o755);
await writeFile(Buffer.concat([Buffer.from(SRC + "/"), LATIN1_NAME]), "latin-1 name\n");
await symlink("hello.txt", join(SRC, "link"));
await symlink(LATIN1_NAME, Buffer.from(join(SRC, "link-raw")));
for (const p of ["hello.txt", "empty.txt", "notes/readme.md", "random.bin", "exec.sh"]) await utimes(join(SRC, p), MTIME, MTIME);
await utimes(Buffer.concat([Buffer.from(SRC + "/"), LATIN1_NAME]), MTIME, MTIME);
for (const p of ["link", "link-raw"]) await lutimes(join(SRC, p), MTIME, MTIME);
for (const p of ["notes", "empty-dir", "."]) await utimes(join(SRC, p), MTIME, MTIME);

let now = Date.parse("2026-01-01T10:00:00Z");
const clock = () => new Date(now);
const backend = new LocalBackend(out);
const repo = await Repository.init(backend, { password: PASSWORD, kdf: TEST_KDF, clock });
const first = await backup(repo, { paths: [SRC], host: "fixture-host", tags: ["fixture", "first"], time: clock(), workers: 1 });

now = Date.parse("2026-01-02T10:00:00Z");
await writeFile(join(SRC, "hello.txt"), "hello again, coffer\n");
await writeFile(join(SRC, "new.txt"), "added in the second snapshot\n");
const second = await backup(repo, {
  paths: [SRC],
  host: "fixture-host",
  tags: ["fixture", "second"],
  kind: "revision",
  label: "r1",
  description: "after an edit",
  retention: "permanent",
  time: clock(),
  workers: 1,
});
await repo.close();
await rm(SRC_TOP, { recursive: true, force: true });

console.log(JSON.stringify({ program: PROGRAM, repo: out, config: repo.config, first: first.snapshot?.id, second: second.snapshot?.id }, null, 2));
