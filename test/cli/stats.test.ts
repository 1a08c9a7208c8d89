import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(src, { recursive: true });
  await writeFile(join(src, "a.txt"), "aaaa");
  await writeFile(join(src, "b.txt"), "aaaa");
  const first = await r.backup([src]);
  await writeFile(join(src, "c.txt"), "cc");
  const second = await r.backup([src]);
  return { r, src, first, second };
}

test("stats counts the restore size of all snapshots, or of those named", async () => {
  const { r, first } = await setup();
  try {
    const all = await r.run(["stats"]);
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /Stats in restore-size mode:/);
    assert.match(all.out, /Snapshots processed: +2\n/);
    assert.match(all.out, /Total File Count: +5\n/);
    assert.match(all.out, /Total Size: +18 B\n/);
    assert.match(all.out, /Repository:\n/);
    const one = JSON.parse((await r.run(["stats", first.slice(0, 8), "--json"])).out) as Record<string, unknown>;
    assert.equal(one.snapshots_count, 1);
    assert.equal(one.total_file_count, 2);
    assert.equal(one.total_size, 8);
    assert.equal((one.repository as { snapshots: number }).snapshots, 2);
  } finally {
    await r.cleanup();
  }
});

test("stats --mode raw-data and files-by-contents", async () => {
  const { r } = await setup();
  try {
    const raw = JSON.parse((await r.run(["stats", "--mode", "raw-data", "--json"])).out) as Record<string, number>;
    assert.equal(raw.data_blob_count, 2);
    assert.equal(raw.missing_blobs, 0);
    assert.ok(raw.total_stored_size! > 0 && raw.compression_ratio! > 0);
    const text = await r.run(["stats", "latest", "--mode", "raw-data"]);
    assert.match(text.out, /Compression Ratio: +\d+\.\d\dx/);
    const byContents = JSON.parse((await r.run(["stats", "--mode", "files-by-contents", "--json"])).out) as Record<string, number>;
    assert.equal(byContents.total_file_count, 2);
    assert.equal(byContents.total_size, 6);
    const bad = await r.run(["stats", "--mode", "nope"]);
    assert.equal(bad.code, 2);
  } finally {
    await r.cleanup();
  }
});
