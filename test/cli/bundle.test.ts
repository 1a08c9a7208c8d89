// The bundled CLI (dist/bundle, built by scripts/bundle.mjs and run by bin/coffer.js): its
// worker threads are separate bundles found beside it, so a whole day of work runs through it
// here: backup with workers and a parent (tree prefetch), restore (restore workers), check
// --read-data (check workers). `npm test` builds the bundle before the tests.
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { digestTree, MAIN_URL, makeTree, sandbox, writeFile } from "../faults/fault-helpers.js";

const bundleMain = fileURLToPath(new URL("../../bundle/main.js", import.meta.url));

test("the bundle is built, newer than the sources, and the CLI the tests run", () => {
  assert.ok(existsSync(bundleMain), `no bundle at ${bundleMain}: run npm run build`);
  const src = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  assert.ok(statSync(bundleMain).mtimeMs >= statSync(src).mtimeMs, "the bundle is older than dist/src: run node scripts/bundle.mjs");
  assert.equal(fileURLToPath(MAIN_URL), bundleMain);
  for (const worker of ["archive-worker.js", "tree-prefetch-worker.js", "restore-worker.js", "check-worker.js"]) {
    assert.ok(existsSync(join(bundleMain, "..", worker)), `${worker} is beside the bundle`);
  }
});

test("backup, unchanged backup, restore and check --read-data through the bundle", async () => {
  const sb = await sandbox("bundle");
  try {
    makeTree(sb.src, { small: 300, big: [3 << 20, 1 << 20], seed: 7 });
    writeFile(join(sb.src, "deep", "a", "b", "c.txt"), "nested");
    const first = await sb.cli(["backup", "--workers", "2", sb.src]);
    assert.equal(first.code, 0, first.err);
    writeFile(join(sb.src, "changed.txt"), "new today");
    const second = await sb.cli(["backup", "--workers", "2", "--json", sb.src]);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /"parent"/, "the second backup used the first as its parent");
    const target = join(sb.dir, "restored");
    const restored = await sb.cli(["-v", "restore", "latest", "--target", target]);
    assert.equal(restored.code, 0, restored.err);
    // A local repository's packs are read by the workers: V8's memory-saving mode stays (remote-cli.ts).
    assert.doesNotMatch(restored.err, /memory-saving mode/);
    assert.deepEqual(digestTree(join(target, sb.src)), digestTree(sb.src));
    const checked = await sb.cli(["check", "--read-data"]);
    assert.equal(checked.code, 0, checked.out + checked.err);
    assert.match(checked.out + checked.err, /no errors were found/);
  } finally {
    await sb.cleanup();
  }
});
