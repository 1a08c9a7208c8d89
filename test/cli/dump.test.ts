import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  const bin = randomBytes(1_500_000);
  await writeFile(join(src, "data.bin"), bin);
  await writeFile(join(src, "sub", "note.txt"), "a note\n");
  const id = await r.backup([src]);
  return { r, src, bin, id };
}

test("dump of a file writes its exact bytes to stdout", async () => {
  const { r, src, bin } = await setup();
  try {
    const res = await r.spawn(["dump", "latest", `${src}/data.bin`]);
    assert.equal(res.code, 0, res.err);
    assert.deepEqual(res.out, bin);
    const text = await r.run(["dump", "latest", `${src}/sub/note.txt`]);
    assert.equal(text.out, "a note\n");
  } finally {
    await r.cleanup();
  }
});

test("dump of a directory writes a tar that system tar lists and extracts", async () => {
  const { r, src, bin } = await setup();
  try {
    const res = await r.spawn(["dump", "latest", src]);
    assert.equal(res.code, 0, res.err);
    const list = spawnSync("tar", ["-tvf", "-"], { input: res.out });
    assert.equal(list.status, 0, list.stderr.toString());
    const names = list.stdout.toString().trim().split("\n").map((l) => l.split(" ").pop());
    const rel = src.slice(1);
    assert.deepEqual(names, [`${rel}/`, `${rel}/data.bin`, `${rel}/sub/`, `${rel}/sub/note.txt`]);
    const out = join(r.dir, "out");
    await mkdir(out);
    assert.equal(spawnSync("tar", ["-xf", "-", "-C", out], { input: res.out }).status, 0);
    assert.deepEqual(await readFile(join(out, rel, "data.bin")), bin);
    assert.equal(await readFile(join(out, rel, "sub", "note.txt"), "utf8"), "a note\n");
  } finally {
    await r.cleanup();
  }
});

test("dump --target writes a file and --json prints a summary", async () => {
  const { r, src, id } = await setup();
  try {
    const target = join(r.dir, "snap.tar");
    const res = await r.run(["dump", id.slice(0, 8), src, "--target", target, "--json"]);
    assert.equal(res.code, 0, res.err);
    const doc = JSON.parse(res.out) as { snapshot: string; format: string; entries: number; bytes: number };
    assert.equal(doc.snapshot, id);
    assert.equal(doc.format, "tar");
    assert.equal(doc.entries, 4);
    assert.equal(doc.bytes, 1_500_000 + 7);
    assert.equal(spawnSync("tar", ["-tf", target]).status, 0);
    const noTarget = await r.run(["dump", "latest", src, "--json"]);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.err, /--json needs --target/);
  } finally {
    await r.cleanup();
  }
});

test("dump of a missing path or snapshot fails with one sentence", async () => {
  const { r, src } = await setup();
  try {
    const res = await r.run(["dump", "latest", `${src}/missing.txt`]);
    assert.equal(res.code, 1);
    assert.match(res.err, /^coffer: The snapshot has no .*\/missing\.txt; run "coffer ls" to see what it holds\.\n$/);
    const snap = await r.run(["dump", "abcdef12", src]);
    assert.equal(snap.code, 1);
    assert.match(snap.err, /No snapshot has an id starting with "abcdef12"/);
    const help = await r.run(["dump", "--help"]);
    assert.match(help.out, /Examples:\n {2}coffer dump latest/);
  } finally {
    await r.cleanup();
  }
});
