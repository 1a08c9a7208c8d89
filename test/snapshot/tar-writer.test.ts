import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstat, mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { encodeHeader, padding, TarWriter, type TarEntry } from "../../src/snapshot/tar-writer.js";

const NS = 1_000_000_000n;
const MTIME = 1_700_000_000n * NS + 123_456_789n;

function collect(): { chunks: Buffer[]; sink: { write: (c: Buffer) => void }; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return { chunks, sink: { write: (c) => void chunks.push(Buffer.from(c)) }, bytes: () => Buffer.concat(chunks) };
}

function tar(args: string[], input?: Buffer, cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("tar", args, { input, cwd, env: { ...process.env, LC_ALL: "C.UTF-8", TZ: "UTC" } });
  return { status: r.status, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
}

const longDir = "d".repeat(60) + "/" + "e".repeat(60) + "/" + "f".repeat(60);
const veryLong = Array.from({ length: 5 }, (_, i) => String(i).repeat(80)).join("/") + "/file.txt";

test("an archive of every entry kind lists and extracts with system tar, byte for byte", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-tar-"));
  try {
    const out = collect();
    const w = new TarWriter(out.sink);
    const base = { uid: 1000, gid: 1000, uname: "alice", gname: "staff", mtimeNs: MTIME };
    await w.add({ ...base, path: "top", type: "dir", mode: 0o755 });
    await w.add({ ...base, path: "top/hello.txt", type: "file", mode: 0o640, size: 6 }, Buffer.from("hello\n"));
    await w.add({ ...base, path: "top/empty", type: "file", mode: 0o600, size: 0 });
    const big = Buffer.alloc(1500, 7);
    await w.add({ ...base, path: "top/chunks.bin", type: "file", mode: 0o644, size: big.length }, [big.subarray(0, 700), big.subarray(700)]);
    await w.add({ ...base, path: "top/link", type: "symlink", mode: 0o777, linkname: "hello.txt" });
    await w.add({ ...base, path: "top/hard", type: "hardlink", mode: 0o640, linkname: "top/hello.txt" });
    await w.add({ ...base, path: `top/${longDir}`, type: "dir", mode: 0o755 });
    await w.add({ ...base, path: `top/${longDir}/split.txt`, type: "file", mode: 0o644, size: 1 }, Buffer.from("s"));
    await w.add({ ...base, path: `top/${veryLong}`, type: "file", mode: 0o644, size: 4 }, Buffer.from("long"));
    await w.add({ ...base, path: "top/longlink", type: "symlink", mode: 0o777, linkname: "x".repeat(150) });
    await w.add({ ...base, path: Buffer.concat([Buffer.from("top/bin-"), Buffer.from([0xff, 0xfe])]), type: "file", mode: 0o644, size: 3 }, Buffer.from("bin"));
    await w.add({ ...base, path: "top/ünïcödé.txt", type: "file", mode: 0o644, size: 2 }, Buffer.from("uc"));
    await w.add({ ...base, uid: 5_000_000, gid: 4_000_000, path: "top/bigids", type: "file", mode: 0o644, size: 0 });
    await w.add({ ...base, path: "top/fifo", type: "fifo", mode: 0o600 });
    await w.add({ ...base, path: "top/whole-second", type: "file", mode: 0o644, size: 0, mtimeNs: 1_600_000_000n * NS });
    await w.finish();
    const archive = out.bytes();
    assert.equal(archive.length % 512, 0);

    const list = tar(["-tvf", "-", "--numeric-owner"], archive);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stderr, "");
    const lines = list.stdout.trim().split("\n");
    assert.equal(lines.length, 15);
    assert.match(lines[1] ?? "", /^-rw-r----- 1000\/1000\s+6 2023-11-14 22:13 top\/hello.txt$/);
    assert.ok(lines.some((l) => l.endsWith(`top/${veryLong}`)));
    assert.ok(lines.some((l) => l.includes("top/hard link to top/hello.txt")));
    assert.ok(lines.some((l) => l.includes(`top/longlink -> ${"x".repeat(150)}`)));
    assert.ok(lines.some((l) => /5000000\/4000000 .* top\/bigids$/.test(l)));

    const x = tar(["-xf", "-", "--no-same-owner"], archive, dir);
    assert.equal(x.status, 0, x.stderr);
    assert.equal(await readFile(join(dir, "top/hello.txt"), "utf8"), "hello\n");
    assert.deepEqual(await readFile(join(dir, "top/chunks.bin")), big);
    assert.equal((await readFile(join(dir, `top/${veryLong}`), "utf8")), "long");
    assert.equal((await readFile(join(dir, `top/${longDir}/split.txt`), "utf8")), "s");
    assert.equal(await readlink(join(dir, "top/link")), "hello.txt");
    assert.equal(await readlink(join(dir, "top/longlink")), "x".repeat(150));
    assert.equal(await readFile(Buffer.concat([Buffer.from(join(dir, "top/bin-")), Buffer.from([0xff, 0xfe])]), "utf8"), "bin");
    assert.equal(await readFile(join(dir, "top/ünïcödé.txt"), "utf8"), "uc");
    const h = await stat(join(dir, "top/hello.txt"), { bigint: true });
    assert.equal(h.mode & 0o777n, 0o640n);
    assert.equal(h.nlink, 2n);
    assert.equal(h.mtimeNs, MTIME); // nanoseconds through the pax mtime record
    assert.ok((await lstat(join(dir, "top/fifo"))).isFIFO());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("pax headers appear only where ustar cannot hold the value", () => {
  const plain: TarEntry = { path: "a.txt", type: "file", mode: 0o644, size: 10, mtimeNs: 1_600_000_000n * NS };
  assert.equal(encodeHeader(plain, 10).length, 512);
  const ns = encodeHeader({ ...plain, mtimeNs: MTIME }, 10);
  assert.equal(ns.length, 3 * 512);
  assert.match(ns.subarray(512, 1024).toString("latin1"), /^30 mtime=1700000000\.123456789\n/);
  // Sizes of 8 GiB and more do not fit in 11 octal digits.
  const huge = encodeHeader(plain, 10 * 1024 ** 3);
  assert.match(huge.subarray(512, 1024).toString("latin1"), /^\d+ size=10737418240\n/);
  // Negative times (before 1970) go to pax too.
  assert.match(encodeHeader({ ...plain, mtimeNs: -1_500_000_000n }, 10).subarray(512, 1024).toString("latin1"), /mtime=-1\.5\n/);
  assert.equal(padding(0), 0);
  assert.equal(padding(1), 511);
  assert.equal(padding(512), 0);
});

test("a body that does not match the size is refused", async () => {
  const w = new TarWriter(collect().sink);
  await assert.rejects(w.add({ path: "x", type: "file", mode: 0o644, size: 5, mtimeNs: 0n }, Buffer.from("toolong")), (e) => isCofferError(e, "INVALID"));
  const w2 = new TarWriter(collect().sink);
  await assert.rejects(w2.add({ path: "x", type: "file", mode: 0o644, size: 5, mtimeNs: 0n }, Buffer.from("abc")), (e) => isCofferError(e, "INVALID") && /2 bytes shorter/.test(e.message));
  const w3 = new TarWriter(collect().sink);
  await w3.add({ path: "x", type: "file", mode: 0o644, size: 3, mtimeNs: 0n });
  await w3.write(Buffer.from("ab"));
  await assert.rejects(w3.finish(), (e) => isCofferError(e, "INVALID"));
});

test("an archive streamed through write() equals one given whole", async () => {
  const a = collect();
  const b = collect();
  const entry: TarEntry = { path: "f", type: "file", mode: 0o644, size: 1000, mtimeNs: MTIME };
  const data = Buffer.alloc(1000, 1);
  const wa = new TarWriter(a.sink);
  await wa.add(entry, data);
  await wa.finish();
  const wb = new TarWriter(b.sink);
  await wb.add(entry);
  for (let i = 0; i < 1000; i += 100) await wb.write(data.subarray(i, i + 100));
  await wb.finish();
  assert.deepEqual(a.bytes(), b.bytes());
  await writeFile(join(tmpdir(), `coffer-tar-${process.pid}.tar`), a.bytes());
  assert.equal(tar(["-tf", join(tmpdir(), `coffer-tar-${process.pid}.tar`)]).stdout, "f\n");
  await rm(join(tmpdir(), `coffer-tar-${process.pid}.tar`));
});
