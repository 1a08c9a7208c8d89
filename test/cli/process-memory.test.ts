import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAddon } from "../../src/core/native-addon.js";

/** The addon's allocator functions (native/malloc-tune.c). */
const addon = (): { tuneMalloc?: (arenaMax: number, mmap: number, trim: number) => boolean; trimMalloc?: () => boolean } | undefined =>
  loadAddon() as ReturnType<typeof addon>;

/**
 * In a child process: frees one 8 MiB block (glibc then raises its mmap threshold to 8 MiB),
 * fills 64 blocks of 1 MiB, frees them, and prints the anonymous resident size (MiB) at the
 * peak and after, with or without tuneProcessMemory() first.
 */
function run(tune: boolean): { peak: number; after: number; tuned: boolean } {
  const dir = mkdtempSync(join(tmpdir(), "coffer-malloc-"));
  try {
    const script = join(dir, "child.mjs");
    const module = new URL("../../src/cli/process-memory.js", import.meta.url).href;
    writeFileSync(
      script,
      `import v8 from "node:v8";
import vm from "node:vm";
import { readFileSync } from "node:fs";
import { tuneProcessMemory } from ${JSON.stringify(module)};
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
const tuned = ${tune} ? tuneProcessMemory() : false;
const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
let big = Buffer.allocUnsafeSlow(8 << 20);
big.fill(1);
big = null;
gc();
let bufs = [];
for (let i = 0; i < 64; i++) bufs.push(Buffer.allocUnsafeSlow(1 << 20).fill(i));
const peak = anon();
bufs = null;
gc();
gc();
console.log(JSON.stringify({ peak, after: anon(), tuned }));
`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { peak: number; after: number; tuned: boolean };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

describe("tuneProcessMemory", { skip: process.platform !== "linux" && "reads /proc/self/status" }, () => {
  it("is in the native addon", () => {
    assert.equal(typeof addon()?.tuneMalloc, "function");
  });

  it("gives freed megabyte blocks back to the system, which glibc's defaults keep resident", { skip: !glibc && "glibc only" }, () => {
    const plain = run(false);
    const tuned = run(true);
    assert.equal(tuned.tuned, true);
    assert.ok(plain.peak - plain.after < 16, `default: ${JSON.stringify(plain)} (freed blocks stay resident)`);
    assert.ok(tuned.peak - tuned.after > 48, `tuned: ${JSON.stringify(tuned)} (freed blocks given back)`);
  });

  it("refuses arguments that are not positive integers", () => {
    const native = addon();
    assert.throws(() => native?.tuneMalloc?.(0, 1, 1), /positive integer/);
  });
});

describe("trimAfterCollections", () => {
  it("has each collection made through core/gc.ts give freed C memory back", async () => {
    const { collectGarbage, trimAfterCollections } = await import("../../src/core/gc.js");
    const native = addon();
    assert.equal(typeof native?.trimMalloc, "function");
    let trims = 0;
    const trim = native!.trimMalloc!;
    try {
      trimAfterCollections(() => {
        trims++;
        return trim();
      });
      collectGarbage();
      assert.equal(trims, 1);
    } finally {
      trimAfterCollections(null);
    }
  });
});
