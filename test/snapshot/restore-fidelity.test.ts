/**
 * A restore gives back what was backed up: bytes, types, modes, owners, times to the
 * nanosecond (with the native addon), hard-link structure, symlink targets, odd names,
 * empty files and directories, and sparse files that stay sparse.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, chmodSync, closeSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { backup } from "../../src/snapshot/archiver.js";
import { loadNative } from "../../src/snapshot/native.js";
import { restore } from "../../src/snapshot/restorer.js";
import { testRepo } from "../helpers/restore-fixtures.js";

const isRoot = process.getuid?.() === 0;
const native = loadNative();

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), "coffer-fidelity-"));
});
after(() => {
  rmSync(base, { recursive: true, force: true });
});

const B = (s: string | Buffer): Buffer => (typeof s === "string" ? Buffer.from(s) : s);
const join2 = (a: Buffer, b: string | Buffer): Buffer => Buffer.concat([a, Buffer.from("/"), B(b)]);

function touch(path: string, at: string): void {
  execFileSync("touch", ["-h", "-d", at, path]);
}

interface Seen {
  type: string;
  mode: number;
  size: bigint;
  mtimeNs: bigint;
  uid: number;
  gid: number;
  nlink: bigint;
  ino: bigint;
  sha?: string;
  link?: string;
}

function kind(st: BigIntStats): string {
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  if (st.isFIFO()) return "fifo";
  return "other";
}

/** Everything below root (and root itself as ""), keyed by the hex of the relative path bytes. */
function scan(root: Buffer): Map<string, Seen> {
  const out = new Map<string, Seen>();
  const rec = (abs: Buffer, rel: Buffer): void => {
    const st = lstatSync(abs, { bigint: true });
    const seen: Seen = { type: kind(st), mode: Number(st.mode & 0o7777n), size: st.isDirectory() ? 0n : st.size, mtimeNs: st.mtimeNs, uid: Number(st.uid), gid: Number(st.gid), nlink: st.nlink, ino: st.ino };
    if (st.isFile()) seen.sha = createHash("sha256").update(readFileSync(abs)).digest("hex");
    if (st.isSymbolicLink()) seen.link = readlinkSync(abs, { encoding: "buffer" }).toString("hex");
    out.set(rel.toString("hex"), seen);
    if (st.isDirectory()) for (const name of readdirSync(abs, { encoding: "buffer" })) rec(join2(abs, name), rel.length ? join2(rel, name) : name);
  };
  rec(root, Buffer.alloc(0));
  return out;
}

describe("restore fidelity", () => {
  test("bytes, modes, owners, ns times, hard links, symlinks and odd names survive a round trip", async () => {
    const src = join(base, "src");
    const S = B(src);
    mkdirSync(join(src, "nested/deeper/deepest"), { recursive: true });
    mkdirSync(join(src, "empty dir"));
    writeFileSync(join(src, "zero-length"), "");
    writeFileSync(join(src, "big.bin"), randomBytes(20 * 1024 * 1024));
    writeFileSync(join(src, "nested/deeper/deepest/small.txt"), "small\n");
    writeFileSync(join(src, "hard-a"), "linked content");
    linkSync(join(src, "hard-a"), join(src, "nested/hard-b"));
    symlinkSync("nested/deeper", join(src, "rel-link"));
    symlinkSync("/etc/hostname-not-followed", join(src, "abs-link"));
    writeFileSync(join(src, "name with spaces"), "spaces");
    writeFileSync(join(src, "new\nline"), "newline");
    writeFileSync(join(src, "ünïcødé-名前-🎉"), "unicode");
    const invalid = join2(S, Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74]));
    writeFileSync(invalid, "not utf-8");
    symlinkSync(Buffer.from([0x74, 0x61, 0x72, 0xc3, 0x28]), join2(S, "invalid-target-link"));
    execFileSync("mkfifo", [join(src, "a fifo")]);
    chmodSync(join(src, "zero-length"), 0o600);
    chmodSync(join(src, "nested/deeper/deepest/small.txt"), 0o640);
    chmodSync(join(src, "big.bin"), 0o755);
    chmodSync(join(src, "empty dir"), 0o700);
    chmodSync(join(src, "nested/deeper"), 0o750);
    if (isRoot) {
      writeFileSync(join(src, "setuid"), "#!/bin/sh\n");
      lchownSync(join(src, "setuid"), 1234, 5678);
      chmodSync(join(src, "setuid"), 0o4755);
      lchownSync(join(src, "name with spaces"), 4321, 8765);
      lchownSync(join(src, "rel-link"), 1111, 2222);
    }
    // Odd nanoseconds everywhere (find passes raw names), then a few distinct ones.
    execFileSync("find", [src, "-depth", "-exec", "touch", "-h", "-d", "@1700000000.123456789", "{}", "+"]);
    touch(join(src, "big.bin"), "@1600000000.987654321");
    touch(join(src, "rel-link"), "@1500000000.000000001");
    touch(join(src, "nested/deeper"), "@1650000000.555555555");
    touch(join(src, "empty dir"), "@1234567890.111111111");

    const repo = await testRepo(new LocalBackend(join(base, "repo")));
    const b = await backup(repo, { paths: [src] });
    assert.ok(b.snapshot);
    const target = join(base, "out");
    const r = await restore(repo, { snapshot: b.snapshot, target, verify: true });
    assert.deepEqual(r.errors, []);
    assert.equal(r.verified?.mismatches, 0);

    const want = scan(S);
    const got = scan(B(join(target, src)));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "the same entries");
    for (const [key, w] of want) {
      const g = got.get(key) as Seen;
      const name = Buffer.from(key, "hex").toString();
      assert.equal(g.type, w.type, `${name}: type`);
      assert.equal(g.mode, w.mode, `${name}: mode`);
      assert.equal(g.size, w.size, `${name}: size`);
      assert.equal(g.sha, w.sha, `${name}: content`);
      assert.equal(g.link, w.link, `${name}: symlink target`);
      assert.equal(g.nlink, w.nlink, `${name}: link count`);
      if (isRoot) assert.deepEqual([g.uid, g.gid], [w.uid, w.gid], `${name}: owner`);
      if (native) assert.equal(g.mtimeNs, w.mtimeNs, `${name}: mtime to the nanosecond`);
      else assert.ok(g.mtimeNs - w.mtimeNs < 1000n && w.mtimeNs - g.mtimeNs < 1000n, `${name}: mtime to the microsecond`);
    }
    const ha = got.get(Buffer.from("hard-a").toString("hex"));
    const hb = got.get(Buffer.from("nested/hard-b").toString("hex"));
    assert.equal(ha?.ino, hb?.ino, "the hard-linked pair is one inode again");
  });

  test("the native addon, when built, sets times to the nanosecond", { skip: native ? false : "the native addon is not built" }, () => {
    const p = join(base, "ns-probe");
    writeFileSync(p, "x");
    native?.utimensat(B(p), 1_700_000_000_000_000_001n, 1_600_000_000_999_999_999n, true);
    const st = lstatSync(p, { bigint: true });
    assert.equal(st.mtimeNs, 1_600_000_000_999_999_999n);
    assert.equal(st.atimeNs, 1_700_000_000_000_000_001n);
  });

  // The backup reads all 5 GiB (the slow part of this test); the restore itself takes about a second.
  test("a 5 GiB sparse file restores quickly and stays sparse", { timeout: 300_000 }, async () => {
    const dir = join(base, "sparse");
    mkdirSync(dir);
    const file = join(dir, "huge.img");
    const size = 5 * 1024 * 1024 * 1024;
    const blockAt = 2.5 * 1024 * 1024 * 1024 + 12345;
    const block = randomBytes(4096);
    const fd = openSync(file, "w");
    writeSync(fd, block, 0, block.length, blockAt);
    closeSync(fd);
    execFileSync("truncate", ["-s", String(size), file]);
    const repo = await testRepo(new LocalBackend(join(base, "sparse-repo")));
    const b = await backup(repo, { paths: [dir] });
    assert.ok(b.snapshot);
    const target = join(base, "sparse-out");
    const t0 = Date.now();
    const r = await restore(repo, { snapshot: b.snapshot, target, subPath: dir });
    const took = Date.now() - t0;
    assert.deepEqual(r.errors, []);
    const out = join(target, "huge.img");
    const st = lstatSync(out);
    assert.equal(st.size, size);
    const back = Buffer.alloc(4096);
    const rfd = openSync(out, "r");
    readSync(rfd, back, 0, 4096, blockAt);
    closeSync(rfd);
    assert.deepEqual(back, block);
    assert.ok(st.blocks * 512 < 32 * 1024 * 1024, `allocated ${st.blocks * 512} bytes: the holes were written`);
    assert.ok(took < 30_000, `the restore took ${took} ms`);
  });
});
