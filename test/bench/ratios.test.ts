import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// dist/test/bench/ratios.test.js → the checkout's bench/ratios.mjs
const RATIOS = fileURLToPath(new URL("../../../bench/ratios.mjs", import.meta.url));

function rows(cofferInitial: number, cofferRss: number): string {
  return [
    ["restic", "backup-initial", "10", "100", ""],
    ["restic", "restore", "8", "90", ""],
    ["restic", "restore-compare", "0", "0", "identical"],
    ["coffer", "backup-initial", String(cofferInitial), String(cofferRss), ""],
    ["coffer", "restore", "4", "80", ""],
    ["coffer", "restore-compare", "0", "0", "identical"],
  ]
    .map((r) => r.join("\t"))
    .join("\n");
}

test("bench/ratios.mjs prints each round and the median ratio of every step over the rounds", () => {
  const dir = mkdtempSync(join(tmpdir(), "coffer-ratios-"));
  try {
    const files = [rows(5, 120), rows(9, 150), rows(6, 130)].map((text, i) => {
      const f = join(dir, `r${i}.tsv`);
      writeFileSync(f, text);
      return f;
    });
    const r = spawnSync(process.execPath, [RATIOS, ...files], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const median = r.stdout.slice(r.stdout.indexOf("median of 3 rounds"));
    assert.ok(median.length > 0, r.stdout);
    assert.match(median, /^backup-initial\t0\.60\t1\.30\t0\.50 0\.90 0\.60$/m);
    assert.match(median, /^restore\t0\.50\t0\.89\t0\.50 0\.50 0\.50$/m);
    assert.match(median, /^peak-memory\t1\.30\t\t1\.20 1\.50 1\.30$/m);
    assert.match(median, /identical in every round/);
    assert.equal(r.stdout.match(/^round \d/gm)?.length, 3);
    // One file: the single table, no median.
    const one = spawnSync(process.execPath, [RATIOS, files[0] as string], { encoding: "utf8" });
    assert.match(one.stdout, /^backup-initial\t5\t10\t0\.50\t120\t100\t1\.20$/m);
    assert.doesNotMatch(one.stdout, /median/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
