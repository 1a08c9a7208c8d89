import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CofferError, isCofferError } from "../../src/core/errors.js";
import { ZipReader } from "../../src/snapshot/zip-reader.js";

const MTIME = new Date("2021-06-07T08:09:10Z");

/** A directory zipped by Info-ZIP's zip (extra fields UT and ux, symlinks stored as links). */
async function infoZip(flags: string[] = []): Promise<{ dir: string; file: string; big: Buffer; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-zipr-"));
  const src = join(dir, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  const big = Buffer.concat([randomBytes(200_000), Buffer.alloc(300_000, "z")]);
  await writeFile(join(src, "big.bin"), big);
  await writeFile(join(src, "sub", "a.txt"), "alpha\n");
  await chmod(join(src, "sub", "a.txt"), 0o640);
  await symlink("sub/a.txt", join(src, "link"));
  await utimes(join(src, "big.bin"), MTIME, MTIME);
  const file = join(dir, "a.zip");
  const r = spawnSync("zip", ["-q", "-r", "-y", ...flags, file, "."], { cwd: src });
  assert.equal(r.status, 0, r.stderr.toString());
  return { dir, file, big, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function readAll(r: ZipReader, name: string): Promise<Buffer> {
  const e = r.find(name);
  assert.ok(e, `${name} is in the archive`);
  return r.readAll(e);
}

test("reads an Info-ZIP archive: contents, modes, exact times, symlinks, owners", async () => {
  const z = await infoZip();
  try {
    const r = await ZipReader.open(z.file);
    try {
      assert.deepEqual(r.entries.map((e) => `${e.type} ${e.name}`).sort(), ["dir sub/", "file big.bin", "file sub/a.txt", "symlink link"]);
      assert.deepEqual(await readAll(r, "big.bin"), z.big);
      const a = r.find("sub/a.txt")!;
      assert.equal(a.mode, 0o640);
      assert.equal((await r.readAll(a)).toString(), "alpha\n");
      assert.equal((await readAll(r, "link")).toString(), "sub/a.txt");
      const big = r.find("big.bin")!;
      assert.equal(big.exactTime, true);
      assert.equal(big.mtimeNs, BigInt(MTIME.getTime()) * 1_000_000n);
      assert.equal(big.uid, process.getuid?.());
    } finally {
      await r.close();
    }
  } finally {
    await z.cleanup();
  }
});

test("reads stored entries and ZIP64 records (zip -0 -fz)", async () => {
  const z = await infoZip(["-0", "-fz"]);
  try {
    const r = await ZipReader.open(z.file);
    try {
      assert.equal(r.find("big.bin")!.method, 0);
      assert.deepEqual(await readAll(r, "big.bin"), z.big);
    } finally {
      await r.close();
    }
  } finally {
    await z.cleanup();
  }
});

test("without extra fields the MS-DOS time is used (2-second steps, local time)", async () => {
  const z = await infoZip(["-X"]);
  try {
    const r = await ZipReader.open(z.file);
    try {
      const big = r.find("big.bin")!;
      assert.equal(big.exactTime, false);
      assert.equal(big.uid, undefined);
      assert.ok(Math.abs(Number(big.mtimeNs / 1_000_000n) - MTIME.getTime()) <= 2000);
    } finally {
      await r.close();
    }
  } finally {
    await z.cleanup();
  }
});

function corruptError(e: unknown, path: string | undefined, damage: string): boolean {
  assert.ok(isCofferError(e, "CORRUPT"), String(e));
  assert.equal((e as CofferError).data.path, path);
  assert.equal((e as CofferError).data.damage, damage);
  return true;
}

test("a damaged byte in a stored entry fails its CRC and names the entry; other entries still read", async () => {
  const z = await infoZip(["-0"]);
  try {
    const r0 = await ZipReader.open(z.file);
    const big = r0.find("big.bin")!;
    await r0.close();
    const bytes = await readFile(z.file);
    const at = big.localOffset + 30 + bytes.readUInt16LE(big.localOffset + 26) + bytes.readUInt16LE(big.localOffset + 28) + 1000;
    bytes[at] = (bytes[at] ?? 0) ^ 0x55;
    await writeFile(z.file, bytes);
    const r = await ZipReader.open(z.file);
    try {
      await assert.rejects(readAll(r, "big.bin"), (e) => corruptError(e, "big.bin", "crc"));
      assert.equal((await readAll(r, "sub/a.txt")).toString(), "alpha\n");
    } finally {
      await r.close();
    }
  } finally {
    await z.cleanup();
  }
});

test("damaged deflate data names the entry", async () => {
  const z = await infoZip();
  try {
    const r0 = await ZipReader.open(z.file);
    const big = r0.find("big.bin")!;
    await r0.close();
    const bytes = await readFile(z.file);
    const start = big.localOffset + 30 + bytes.readUInt16LE(big.localOffset + 26) + bytes.readUInt16LE(big.localOffset + 28);
    bytes.fill(0xff, start + 10, start + 40);
    await writeFile(z.file, bytes);
    const r = await ZipReader.open(z.file);
    try {
      await assert.rejects(readAll(r, "big.bin"), (e) => isCofferError(e, "CORRUPT") && (e as CofferError).data.path === "big.bin");
    } finally {
      await r.close();
    }
  } finally {
    await z.cleanup();
  }
});

test("a truncated ZIP names the entry that is cut short", async () => {
  const z = await infoZip();
  try {
    const r0 = await ZipReader.open(z.file);
    const order = [...r0.entries].sort((a, b) => a.localOffset - b.localOffset);
    const big = r0.find("big.bin")!;
    await r0.close();
    await truncate(z.file, big.localOffset + 5000);
    const whole = order.indexOf(big);
    await assert.rejects(ZipReader.open(z.file), (e) => corruptError(e, "big.bin", "truncated") && (e as CofferError).data.entries === whole);
  } finally {
    await z.cleanup();
  }
});

test("a file that is not a ZIP at all", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-zipr-"));
  try {
    await writeFile(join(dir, "x.zip"), "just text, no archive here\n");
    await assert.rejects(ZipReader.open(join(dir, "x.zip")), /is not a ZIP archive/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
