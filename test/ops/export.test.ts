import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import type { ArchiveManifest } from "../../src/ops/archive-manifest.js";
import { exportSnapshot } from "../../src/ops/export.js";
import { backup } from "../../src/snapshot/archiver.js";
import { digestTree, extract, makeArchiveFixture, OLD_MTIME } from "./archive-fixture.js";

for (const name of ["snap.zip", "snap.tar", "snap.tar.gz", "snap.tar.zst"]) {
  test(`export to ${name}: system tools extract the same bytes, modes, mtimes and symlinks`, async () => {
    const f = await makeArchiveFixture();
    try {
      const { file, result } = await f.exportTo(name);
      assert.equal(result.base, join(f.dir, "src"));
      assert.equal(result.totals.files, 7); // big, notes, secret, run.sh, empty, data.log, notes-hardlink
      assert.equal(result.totals.symlinks, 1);
      assert.equal(result.totals.dirs, 4); // app, app/empty-dir, app/sub, app/sub/deeper
      if (name.endsWith(".zip")) {
        const t = spawnSync("unzip", ["-t", file]);
        assert.equal(t.status, 0, t.stdout.toString() + t.stderr.toString());
      }
      const out = await extract(file, join(f.dir, "out"));
      const want = await digestTree(join(f.dir, "src"));
      const got = await digestTree(out);
      const manifestEntry = got.get("manifest.json");
      got.delete("manifest.json");
      assert.ok(manifestEntry);
      assert.deepEqual(got, want);
      assert.equal(got.get("app/big.bin")?.mtime, Math.floor(OLD_MTIME.getTime() / 1000));
      assert.equal(got.get("app/sub/deeper/secret.txt")?.mode, 0o600);
      assert.equal(got.get("app/run.sh")?.mode, 0o755);
    } finally {
      await f.cleanup();
    }
  });
}

test("the manifest is the last entry and its hashes are what sha256sum computes", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file } = await f.exportTo("snap.tar");
    const list = spawnSync("tar", ["-tf", file]).stdout.toString().trim().split("\n");
    assert.equal(list[list.length - 1], "manifest.json");
    const out = await extract(file, join(f.dir, "out"));
    const m = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as ArchiveManifest;
    assert.equal(m.format, "coffer-export");
    assert.equal(m.version, 1);
    assert.equal(m.snapshot.id, f.snapshot.id);
    assert.deepEqual(m.snapshot.paths, [f.src]);
    assert.deepEqual(m.snapshot.tags, ["nightly"]);
    assert.equal(m.snapshot.label, "fixture");
    assert.equal(m.snapshot.kind, "manual");
    assert.match(m.program, /^coffer /);
    assert.deepEqual(m.included, { path: "/", base: join(f.dir, "src"), include: [], exclude: [] });
    assert.equal(m.totals.files, m.files.length);
    // The documented check without coffer: sha256sum -c on the manifest's hashes.
    const sums = m.files.map((x) => `${x.sha256}  ${x.path}\n`).join("");
    const c = spawnSync("sha256sum", ["-c", "--strict", "-"], { cwd: out, input: sums });
    assert.equal(c.status, 0, c.stdout.toString() + c.stderr.toString());
    const big = m.files.find((x) => x.path === "app/big.bin");
    assert.equal(big?.mtime, "2020-02-03T04:05:06.789000000Z");
    assert.equal(big?.mode, "0644");
    assert.equal(m.files.find((x) => x.path === "app/sub/deeper/secret.txt")?.mode, "0600");
    assert.equal(m.files.find((x) => x.path === "app/empty.txt")?.sha256, createHash("sha256").digest("hex"));
  } finally {
    await f.cleanup();
  }
});

test("a tar export stores a hard link once; a ZIP, which has none, holds the content twice", async () => {
  const f = await makeArchiveFixture();
  try {
    const tar = await f.exportTo("snap.tar");
    const listing = spawnSync("tar", ["-tvf", tar.file]).stdout.toString();
    assert.match(listing, /^h.* app\/sub\/notes\.txt link to app\/notes-hardlink\.txt$/m);
    assert.equal(tar.result.totals.hardlinks, 1);
    const zip = await f.exportTo("snap.zip");
    assert.equal(zip.result.totals.hardlinks, 0);
    assert.equal(zip.result.totals.files, tar.result.totals.files);
  } finally {
    await f.cleanup();
  }
});

test("export of a sub-path with include and exclude patterns", async () => {
  const f = await makeArchiveFixture();
  try {
    const { file, result } = await f.exportTo("part.zip", { path: `${f.src}/sub`, exclude: ["*.txt"] });
    assert.equal(result.base, f.src);
    assert.equal(result.path, `${f.src}/sub`);
    const names = spawnSync("unzip", ["-Z1", file]).stdout.toString().trim().split("\n");
    assert.deepEqual(names, ["sub/", "sub/deeper/", "manifest.json"]);
    const inc = await f.exportTo("inc.tar", { include: ["secret.txt"] });
    const list = spawnSync("tar", ["-tf", inc.file]).stdout.toString().trim().split("\n");
    // Only the file, with the directories that lead to it.
    assert.deepEqual(list, ["app/", "app/sub/", "app/sub/deeper/", "app/sub/deeper/secret.txt", "manifest.json"]);
    assert.equal(inc.result.totals.files, 1);
    const one = await f.exportTo("one.tar", { path: `${f.src}/run.sh` });
    assert.deepEqual(spawnSync("tar", ["-tf", one.file]).stdout.toString().trim().split("\n"), ["run.sh", "manifest.json"]);
  } finally {
    await f.cleanup();
  }
});

test("export refuses a top-level file that would be taken for the manifest", async () => {
  const f = await makeArchiveFixture();
  try {
    await writeFile(join(f.src, "manifest.json"), "{}");
    const snapshot = (await backup(f.repo, { paths: [f.src], workers: 1 })).snapshot!;
    const sink = { write: () => undefined };
    const clash = await exportSnapshot(f.repo, sink, { snapshot, format: "tar", path: `${f.src}/manifest.json` }).catch((e: unknown) => e);
    assert.ok(isCofferError(clash, "INVALID"));
    assert.match((clash as Error).message, /manifest\.json at its top level/);
    // One level down it is an ordinary file: app/manifest.json.
    const ok = await exportSnapshot(f.repo, sink, { snapshot, format: "tar" });
    assert.equal(ok.totals.files, 8);
    const missing = await exportSnapshot(f.repo, sink, { snapshot, format: "tar", path: "/no/such/path" }).catch((e: unknown) => e);
    assert.ok(isCofferError(missing, "NOT_FOUND"));
  } finally {
    await f.cleanup();
  }
});

test("ZIP level 0 stores every file; incompressible files are stored at any level", async () => {
  const f = await makeArchiveFixture();
  try {
    const stored = await f.exportTo("stored.zip", { level: 0 });
    const v0 = spawnSync("unzip", ["-v", stored.file]).stdout.toString();
    assert.doesNotMatch(v0, /Defl/);
    const normal = await f.exportTo("normal.zip");
    const v = spawnSync("unzip", ["-v", normal.file]).stdout.toString();
    assert.match(v, /Stored .* app\/big\.bin/);
    assert.match(v, /Defl:N .* app\/sub\/notes\.txt/);
  } finally {
    await f.cleanup();
  }
});
