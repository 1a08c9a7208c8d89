import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { ZipReader } from "../../src/snapshot/zip-reader.js";
import { dosTime } from "../../src/snapshot/zip-format.js";
import { type ZipSink, ZipWriter } from "../../src/snapshot/zip-writer.js";

const T = 1_700_000_000n * 1_000_000_000n; // 2023-11-14T22:13:20Z

function memorySink(): ZipSink & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return { write: (c) => void parts.push(Buffer.from(c)), bytes: () => Buffer.concat(parts) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-zipw-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function sample(w: ZipWriter, big: Buffer): Promise<void> {
  await w.add({ name: "d", type: "dir", mode: 0o750, mtimeNs: T });
  await w.add({ name: "d/text.txt", type: "file", mode: 0o640, mtimeNs: T + 123_456_789n, size: 13, uid: 1234, gid: 5678 }, Buffer.from("hello, world\n"));
  await w.add({ name: "d/big.bin", type: "file", mode: 0o600, mtimeNs: T, size: big.length }, (async function* () {
    for (let o = 0; o < big.length; o += 100_000) yield big.subarray(o, o + 100_000);
  })());
  await w.add({ name: "d/empty", type: "file", mode: 0o644, mtimeNs: T, size: 0 });
  await w.add({ name: "d/link", type: "symlink", mode: 0o777, mtimeNs: T, linkname: "text.txt" });
  await w.add({ name: "d/ünïcode.txt", type: "file", mode: 0o644, mtimeNs: T, size: 3 }, [Buffer.from("abc")]);
  await w.finish();
}

for (const forceZip64 of [false, true]) {
  test(`unzip tests and extracts what the writer wrote${forceZip64 ? " (ZIP64 records everywhere)" : ""}`, () =>
    withDir(async (dir) => {
      const big = Buffer.concat([randomBytes(300_000), Buffer.alloc(400_000, "x")]);
      const sink = memorySink();
      await sample(new ZipWriter(sink, { forceZip64 }), big);
      const file = join(dir, "a.zip");
      await writeFile(file, sink.bytes());
      const t = spawnSync("unzip", ["-t", file]);
      assert.equal(t.status, 0, t.stdout.toString());
      const py = spawnSync("python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.infolist()))", file]);
      if (py.status !== null && !py.error) assert.equal(py.stdout.toString().trim(), "6", py.stderr.toString());
      const out = join(dir, "out");
      assert.equal(spawnSync("unzip", ["-q", file, "-d", out]).status, 0);
      assert.equal(await readFile(join(out, "d/text.txt"), "utf8"), "hello, world\n");
      assert.deepEqual(await readFile(join(out, "d/big.bin")), big);
      assert.equal((await readFile(join(out, "d/empty"))).length, 0);
      assert.equal(await readFile(join(out, "d/ünïcode.txt"), "utf8"), "abc");
      assert.equal(await readlink(join(out, "d/link")), "text.txt");
      const st = await lstat(join(out, "d/text.txt"));
      assert.equal(st.mode & 0o7777, 0o640);
      assert.equal(Math.floor(st.mtimeMs / 1000), 1_700_000_000);
      assert.equal((await lstat(join(out, "d/big.bin"))).mode & 0o7777, 0o600);
      assert.equal((await lstat(join(out, "d"))).mode & 0o7777, 0o750);

      const r = await ZipReader.open(file);
      try {
        const text = r.find("d/text.txt")!;
        assert.equal(text.uid, 1234);
        assert.equal(text.gid, 5678);
        assert.equal(text.exactTime, true);
        assert.equal(text.mtimeNs, T);
        assert.deepEqual(await r.readAll(r.find("d/big.bin")!), big);
        assert.equal(r.find("d/link")!.type, "symlink");
      } finally {
        await r.close();
      }
    }));
}

test("a body that does not match the declared size is refused", async () => {
  const w = new ZipWriter(memorySink());
  await assert.rejects(w.add({ name: "a", type: "file", mode: 0o644, mtimeNs: T, size: 5 }, Buffer.from("too long")), (e) => isCofferError(e, "INVALID"));
  const w2 = new ZipWriter(memorySink());
  await assert.rejects(w2.add({ name: "a", type: "file", mode: 0o644, mtimeNs: T, size: 50 }, Buffer.from("short")), /shorter than its size/);
});

test("MS-DOS times are local, clamped to 1980", () => {
  assert.deepEqual(dosTime(0n), { time: 0, date: (1 << 5) | 1 });
  const d = dosTime(T);
  const local = new Date(1_700_000_000_000);
  assert.equal(d.date >> 9, local.getFullYear() - 1980);
  assert.equal((d.time >> 11) & 31, local.getHours());
});

// A file over 4 GiB, and an entry after it whose local header lies past 4 GiB. The archive is
// written to a sparse file (runs of zeros become holes), so it costs CPU time, not disk.
// Slow (reads 4 GiB three times): set COFFER_BIG_TESTS=1.
test("ZIP64: a 4.2 GiB entry and an entry past 4 GiB open with unzip and with the reader", { skip: process.env.COFFER_BIG_TESTS !== "1" }, () =>
  withDir(async (dir) => {
    const file = join(dir, "big.zip");
    const fd = openSync(file, "w");
    let pos = 0;
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const sink: ZipSink = {
      write(c) {
        if (c.buffer === zeros.buffer) pos += c.length; // a hole
        else pos += writeSync(fd, c, 0, c.length, pos);
      },
    };
    const size = 4 * 1024 ** 3 + 300 * 1024 ** 2;
    const w = new ZipWriter(sink, { level: 0 });
    await w.add({ name: "huge.bin", type: "file", mode: 0o644, mtimeNs: T, size }, (function* () {
      for (let left = size; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
    })());
    await w.add({ name: "after.txt", type: "file", mode: 0o644, mtimeNs: T, size: 6 }, Buffer.from("after\n"));
    await w.finish();
    ftruncateSync(fd, pos);
    closeSync(fd);
    const t = spawnSync("unzip", ["-t", file]);
    assert.equal(t.status, 0, t.stdout.toString() + t.stderr.toString());
    const r = await ZipReader.open(file);
    try {
      assert.equal(r.find("huge.bin")!.size, size);
      assert.ok(r.find("after.txt")!.localOffset > 0xffffffff);
      assert.equal((await r.readAll(r.find("after.txt")!)).toString(), "after\n");
    } finally {
      await r.close();
    }
  }));
