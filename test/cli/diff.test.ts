import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(join(src, "dir"), { recursive: true });
  await writeFile(join(src, "keep.txt"), "keep");
  await writeFile(join(src, "change.txt"), "one");
  await writeFile(join(src, "perm.txt"), "perm");
  await writeFile(join(src, "dir", "gone.txt"), "gone");
  const a = await r.backup([src]);
  await writeFile(join(src, "change.txt"), "two!");
  await chmod(join(src, "perm.txt"), 0o600);
  await rm(join(src, "dir"), { recursive: true });
  await mkdir(join(src, "new"));
  await writeFile(join(src, "new", "file.txt"), "new file");
  const b = await r.backup([src]);
  return { r, src, a, b };
}

test("diff prints restic-style lines and a summary", async () => {
  const { r, src, a, b } = await setup();
  try {
    const res = await r.run(["diff", a.slice(0, 8), b]);
    assert.equal(res.code, 0, res.err);
    assert.match(res.err, new RegExp(`comparing snapshot ${a.slice(0, 8)} to ${b.slice(0, 8)}`));
    const lines = res.out.split("\n");
    const changes = lines.filter((l) => /^[-+MTU] {4}/.test(l));
    assert.deepEqual(changes, [`M    ${src}/change.txt`, `-    ${src}/dir/`, `-    ${src}/dir/gone.txt`, `+    ${src}/new/`, `+    ${src}/new/file.txt`]);
    assert.match(res.out, /Files: +1 new, +1 removed, +1 changed/);
    assert.match(res.out, /Dirs: +1 new, +1 removed/);
    assert.match(res.out, /Added: +12 B/);
    assert.match(res.out, /Removed: +7 B/);
    const meta = await r.run(["diff", a, b, "--metadata"]);
    assert.ok(meta.out.includes(`U    ${src}/perm.txt\n`));
  } finally {
    await r.cleanup();
  }
});

test("diff --json is one document with changes and totals", async () => {
  const { r, a, b } = await setup();
  try {
    const res = await r.run(["diff", a, "latest", "--json"]);
    assert.equal(res.code, 0, res.err);
    const doc = JSON.parse(res.out) as { snapshot_a: string; snapshot_b: string; changes: { path: string; modifier: string }[]; totals: Record<string, number> };
    assert.equal(doc.snapshot_a, a);
    assert.equal(doc.snapshot_b, b);
    assert.deepEqual(doc.changes.map((c) => c.modifier), ["M", "-", "-", "+", "+"]);
    assert.equal(doc.totals.files_modified, 1);
    assert.equal(doc.totals.bytes_added, 12);
    const same = JSON.parse((await r.run(["diff", a, a, "--json"])).out) as { changes: unknown[] };
    assert.deepEqual(same.changes, []);
  } finally {
    await r.cleanup();
  }
});

test("diff with an unknown snapshot fails with exit 1 and one sentence", async () => {
  const { r, a } = await setup();
  try {
    const res = await r.run(["diff", a, "0000000"]);
    assert.equal(res.code, 1);
    assert.match(res.err, /^coffer: No snapshot has an id starting with "0000000"\.\n$/);
    const usage = await r.run(["diff", a]);
    assert.equal(usage.code, 2);
  } finally {
    await r.cleanup();
  }
});
