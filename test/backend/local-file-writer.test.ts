import assert from "node:assert/strict";
import * as fs from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { LocalFileWriter, WRITER_RETRY_DELAYS_MS, type WriterFs } from "../../src/backend/local-file-writer.js";
import { isCofferError } from "../../src/core/errors.js";
import { systemError } from "../helpers/faulty-backend.js";

type Op = "openSync" | "writeSync" | "fsyncSync" | "renameSync";

/** Real fs calls, except that the nth call of `op` throws `code` (`times` calls in a row). */
function faultyFs(op: Op, nth: number, code: string, times = 1): WriterFs & { calls: Record<Op, number> } {
  const calls: Record<Op, number> = { openSync: 0, writeSync: 0, fsyncSync: 0, renameSync: 0 };
  const fail = (o: Op): void => {
    const n = ++calls[o];
    if (o === op && n >= nth && n < nth + times) throw systemError(code, `injected on ${o} #${n}`, o);
  };
  return {
    calls,
    openSync: ((...a: Parameters<typeof fs.openSync>) => (fail("openSync"), fs.openSync(...a))) as typeof fs.openSync,
    writeSync: (fd, b, offset, length, position) => {
      // A failed write may have written part of its bytes: the retry must put them right.
      if (op === "writeSync" && calls.writeSync + 1 >= nth && calls.writeSync + 1 < nth + times) fs.writeSync(fd, Buffer.alloc(Math.min(length, 7), 0xee), 0, Math.min(length, 7), position);
      fail("writeSync");
      return fs.writeSync(fd, b, offset, length, position);
    },
    fsyncSync: ((fd: number) => (fail("fsyncSync"), fs.fsyncSync(fd))) as typeof fs.fsyncSync,
    closeSync: fs.closeSync,
    renameSync: ((a: fs.PathLike, b: fs.PathLike) => (fail("renameSync"), fs.renameSync(a, b))) as typeof fs.renameSync,
    unlinkSync: fs.unlinkSync,
    mkdirSync: fs.mkdirSync,
    statSync: fs.statSync,
  };
}

async function withRepo(fn: (root: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-writer-"));
  try {
    const root = join(dir, "repo");
    await new LocalBackend(root).create();
    await fn(root);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const NAME = "ab".repeat(32);
const parts = [Buffer.alloc(3000, 1), Buffer.alloc(5000, 2), Buffer.alloc(100, 3)];
const whole = Buffer.concat(parts);

async function tempFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, "data"))).filter((n) => n.startsWith(".tmp-"));
}

test("transient EIO on open, write and rename is retried; the file is exact", async () => {
  for (const [op, nth] of [["openSync", 1], ["writeSync", 2], ["renameSync", 1]] as const) {
    await withRepo(async (root) => {
      const waits: number[] = [];
      const wfs = faultyFs(op, nth, "EIO", 2);
      const w = new LocalFileWriter(root, "data", { fs: wfs, sleep: (ms) => waits.push(ms) });
      for (const p of parts) w.write(p);
      w.commit(NAME);
      assert.deepEqual(waits, WRITER_RETRY_DELAYS_MS.slice(0, 2), `${op}: two waits`);
      assert.deepEqual(await readFile(join(root, "data", "ab", NAME)), whole, `${op}: bytes`);
      // A failed open may leave its file (prune removes it after a day); nothing else is left.
      assert.ok((await tempFiles(root)).length <= (op === "openSync" ? 2 : 0), op);
    });
  }
});

test("a write that keeps failing gives up after the last wait, removes its temp file and says why", async () => {
  await withRepo(async (root) => {
    const waits: number[] = [];
    const w = new LocalFileWriter(root, "data", { fs: faultyFs("writeSync", 1, "EIO", 100), sleep: (ms) => waits.push(ms) });
    assert.throws(() => w.write(parts[0] as Buffer), (e: unknown) => isCofferError(e, "IO") && /EIO/.test(e.message));
    assert.deepEqual(waits, [...WRITER_RETRY_DELAYS_MS]);
    assert.deepEqual(await tempFiles(root), []);
  });
});

test("permanent errors (ENOSPC) and a failed fsync are not retried", async () => {
  await withRepo(async (root) => {
    const waits: number[] = [];
    const full = new LocalFileWriter(root, "data", { fs: faultyFs("writeSync", 1, "ENOSPC"), sleep: (ms) => waits.push(ms) });
    assert.throws(() => full.write(parts[0] as Buffer), (e: unknown) => isCofferError(e, "NO_SPACE"));
    const sync = new LocalFileWriter(root, "data", { fs: faultyFs("fsyncSync", 1, "EIO"), sleep: (ms) => waits.push(ms) });
    sync.write(parts[0] as Buffer);
    assert.throws(() => sync.commit(NAME), (e: unknown) => isCofferError(e, "IO"));
    assert.deepEqual(waits, []);
    assert.deepEqual(await tempFiles(root), []);
    assert.deepEqual(await readdir(join(root, "data", "ab")), [], "nothing saved under the name");
  });
});
