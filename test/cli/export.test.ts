import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src", "site");
  await mkdir(join(src, "pages"), { recursive: true });
  await writeFile(join(src, "data.bin"), randomBytes(700_000));
  await writeFile(join(src, "pages", "index.html"), "<h1>hi</h1>\n");
  const id = await r.backup([src]);
  return { r, src, id };
}

test("export, verify-archive and import round trip through the CLI", async () => {
  const { r, src, id } = await setup();
  try {
    const zip = join(r.dir, "site.zip");
    const ex = await r.run(["export", id.slice(0, 8), "-o", zip]);
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /^exported snapshot [0-9a-f]{8} to .*site\.zip \(zip\): 2 files \(.*\), 2 dirs, 0 symlinks; archive .*, manifest\.json last\n$/);
    assert.deepEqual((await readdir(r.dir)).filter((n) => n.includes("partial")), [], "no temporary file is left");
    const v = await r.run(["verify-archive", zip]);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /site\.zip: 2 files \(.*\) match the manifest \(snapshot [0-9a-f]{8} of /);
    const im = await r.run(["import", zip, "--tag", "restored"]);
    assert.equal(im.code, 0, im.err);
    assert.match(im.out, /^imported 2 files .* from .*site\.zip \(zip\)\nverified against its manifest: exported from snapshot [0-9a-f]{8}\n/m);
    assert.match(im.out, new RegExp(`snapshot [0-9a-f]{8} saved \\(${src}\\)`));
    const list = await r.run(["snapshots", "--json"]);
    const snaps = JSON.parse(list.out) as { kind: string; tags: string[] }[];
    assert.deepEqual(snaps.map((s) => s.kind).sort(), ["import", "manual"]);
    assert.deepEqual(snaps.find((s) => s.kind === "import")?.tags, ["restored"]);
  } finally {
    await r.cleanup();
  }
});

test("export -o - writes a tar to stdout; --json prints a summary", async () => {
  const { r, src } = await setup();
  try {
    const res = await r.spawn(["export", "latest", "-o", "-"]);
    assert.equal(res.code, 0, res.err);
    const names = spawnSync("tar", ["-tf", "-"], { input: res.out }).stdout.toString().trim().split("\n");
    assert.deepEqual(names, ["site/", "site/data.bin", "site/pages/", "site/pages/index.html", "manifest.json"]);
    const zst = await r.spawn(["export", "latest:/", "-o", "-", "--format", "tar.zst"]);
    assert.equal(zst.code, 0, zst.err);
    const vz = spawnSync(process.execPath, ["--input-type=module", "-e", `import { main } from ${JSON.stringify(new URL("../../src/cli/main.js", import.meta.url).href)}; main(["verify-archive", "-", "--json"]);`], { input: zst.out, env: { ...process.env, ...r.env } });
    assert.equal(vz.status, 0, vz.stderr.toString());
    assert.equal((JSON.parse(vz.stdout.toString()) as { format: string; ok: boolean }).format, "tar.zst");
    const target = join(r.dir, "part.tar.gz");
    const j = await r.run(["export", `latest:${src}/pages`, "-o", target, "--json"]);
    assert.equal(j.code, 0, j.err);
    const doc = JSON.parse(j.out) as { format: string; path: string; base: string; totals: { files: number; dirs: number } };
    assert.equal(doc.format, "tar.gz");
    assert.equal(doc.path, `${src}/pages`);
    assert.equal(doc.base, src);
    assert.deepEqual([doc.totals.files, doc.totals.dirs], [1, 1]);
  } finally {
    await r.cleanup();
  }
});

test("export usage errors: no output, an unknown extension, an existing file", async () => {
  const { r } = await setup();
  try {
    const none = await r.run(["export", "latest"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /Name the archive to write with -o/);
    const ext = await r.run(["export", "latest", "-o", join(r.dir, "x.rar")]);
    assert.equal(ext.code, 2);
    assert.match(ext.err, /Cannot tell the archive format from/);
    const out = join(r.dir, "exists.tar");
    await writeFile(out, "old");
    const again = await r.run(["export", "latest", "-o", out]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exists; remove it or give --force/);
    assert.equal((await r.run(["export", "latest", "-o", out, "--force"])).code, 0);
  } finally {
    await r.cleanup();
  }
});

test("verify-archive of an archive without a coffer manifest exits 1 and says why", async () => {
  const { r, src } = await setup();
  try {
    const zip = join(r.dir, "plain.zip");
    assert.equal(spawnSync("zip", ["-q", "-r", zip, "."], { cwd: src }).status, 0);
    const v = await r.run(["verify-archive", zip]);
    assert.equal(v.code, 1);
    assert.match(v.out, /has no coffer manifest\.json, so its content cannot be verified/);
    const im = await r.run(["import", zip, "--json"]);
    assert.equal(im.code, 0, im.err);
    const doc = JSON.parse(im.out) as { verified: boolean; root: string; files: number };
    assert.deepEqual([doc.verified, doc.root, doc.files], [false, "/import/plain", 2]);
  } finally {
    await r.cleanup();
  }
});
