import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { startMetadataPrefetch } from "../../src/snapshot/metadata-prefetch.js";
import { loadNative, type NativeFs, type PrefetchHandle } from "../../src/snapshot/native.js";

const top = mkdtempSync(join(tmpdir(), "coffer-prefetch-"));
after(() => rmSync(top, { recursive: true, force: true }));

/** A tree of `width`³ files under `width`² directories (plus a symlink to a directory, not followed). */
function tree(name: string, width: number): { root: string; entries: number; dirs: number } {
  const root = join(top, name);
  mkdirSync(root);
  let entries = 0;
  let dirs = 1;
  for (let a = 0; a < width; a++) {
    mkdirSync(join(root, `a${a}`));
    entries++;
    dirs++;
    for (let b = 0; b < width; b++) {
      mkdirSync(join(root, `a${a}`, `b${b}`));
      entries++;
      dirs++;
      for (let c = 0; c < width; c++) {
        writeFileSync(join(root, `a${a}`, `b${b}`, `f${c}`), "x");
        entries++;
      }
    }
  }
  symlinkSync(join(root, "a0"), join(root, "link"));
  entries++;
  return { root, entries, dirs };
}

type Status = ReturnType<Required<NativeFs>["prefetchStatus"]>;

async function finished(native: Required<NativeFs>, h: PrefetchHandle): Promise<Status> {
  for (let i = 0; i < 500; i++) {
    const s = native.prefetchStatus(h);
    if (s.done) return s;
    await sleep(10);
  }
  assert.fail("the prefetch threads did not finish within 5 s");
}

describe("native prefetchTree", () => {
  const native = loadNative() as Required<NativeFs> | undefined;

  it("is built into the addon", () => {
    assert.equal(typeof native?.prefetchTree, "function");
  });

  it("lists every directory and lstats every entry once, without following symlinks", async () => {
    const t = tree("all", 6);
    const h = native!.prefetchTree(Buffer.from(t.root), 4, 1_000_000);
    const s = await finished(native!, h);
    assert.equal(s.entries, t.entries);
    assert.equal(s.dirs, t.dirs);
    assert.equal(s.warm, false, "under 2048 entries: no judgement");
  });

  it("stops after its first 2048 entries when listing them read nothing from disk (a cached tree)", async () => {
    const t = tree("cached", 14); // 2955 entries, just written: in the cache
    const s = await finished(native!, native!.prefetchTree(Buffer.from(t.root), 4, 1_000_000));
    assert.equal(s.warm, true, JSON.stringify(s));
    assert.ok(s.entries >= 2048 && s.entries < t.entries, JSON.stringify(s));
    assert.ok(s.reads < 8, JSON.stringify(s));
  });

  it("stops after about maxEntries entries", async () => {
    const t = tree("bounded", 6);
    const s = await finished(native!, native!.prefetchTree(Buffer.from(t.root), 2, 10));
    assert.ok(s.entries >= 10 && s.entries < t.entries, JSON.stringify(s));
  });

  it("stops when asked, and a root that is not a directory does nothing", async () => {
    const t = tree("stopped", 8);
    const h = native!.prefetchTree(Buffer.from(t.root), 1, 1_000_000);
    native!.stopPrefetch(h);
    const s = await finished(native!, h);
    assert.ok(s.entries <= t.entries);
    const file = join(top, "plain-file");
    writeFileSync(file, "x");
    const nothing = { entries: 0, dirs: 0, done: true, warm: false, reads: 0 };
    assert.deepEqual(await finished(native!, native!.prefetchTree(Buffer.from(file), 2, 100)), nothing);
    assert.deepEqual(await finished(native!, native!.prefetchTree(Buffer.from(join(top, "missing")), 2, 100)), nothing);
  });

  it("refuses bad arguments with a TypeError", () => {
    assert.throws(() => native!.prefetchTree("/" as unknown as Buffer, 2, 10), TypeError);
    assert.throws(() => native!.prefetchTree(Buffer.from("/"), 0, 10), TypeError);
    assert.throws(() => native!.prefetchStatus({} as PrefetchHandle), TypeError);
  });

  it("startMetadataPrefetch returns a stop function that can be called twice", () => {
    const t = tree("wrapper", 3);
    const stop = startMetadataPrefetch([Buffer.from(t.root)]);
    stop();
    stop();
  });
});
