import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CofferError, isCofferError } from "../../src/core/errors.js";
import { readTar, type TarReadEntry } from "../../src/snapshot/tar-reader.js";
import { TarWriter } from "../../src/snapshot/tar-writer.js";

interface Read {
  entry: TarReadEntry;
  data: Buffer;
}

async function readAllEntries(bytes: Buffer, chunk = 7000): Promise<Read[]> {
  const source = (async function* () {
    for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk);
  })();
  const out: Read[] = [];
  for await (const { entry, body } of readTar(source)) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(Buffer.from(c));
    out.push({ entry, data: Buffer.concat(parts) });
  }
  return out;
}

const LONG = `${"long-directory-name-".repeat(6)}/${"file-name-that-is-long-".repeat(5)}.txt`;

async function gnuTar(format: string): Promise<{ bytes: Buffer; big: Buffer; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-tarr-"));
  const src = join(dir, "src");
  await mkdir(join(src, LONG.split("/")[0] as string), { recursive: true });
  const big = randomBytes(123_457);
  await writeFile(join(src, "big.bin"), big);
  await writeFile(join(src, LONG), "long\n");
  await writeFile(join(src, "ünïcödé.txt"), "utf8\n");
  await chmod(join(src, "big.bin"), 0o604);
  await symlink("big.bin", join(src, "link"));
  await link(join(src, "big.bin"), join(src, "hard"));
  await utimes(join(src, "big.bin"), new Date("2019-01-02T03:04:05Z"), new Date("2019-01-02T03:04:05Z"));
  const r = spawnSync("tar", ["-c", `--format=${format}`, "-f", "-", "--sort=name", "."], { cwd: src, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr.toString());
  return { bytes: r.stdout, big, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

for (const format of ["gnu", "posix"]) {
  test(`reads GNU tar's ${format} format: long names, UTF-8, symlinks, hard links, modes, times`, async () => {
    const t = await gnuTar(format);
    try {
      const all = await readAllEntries(t.bytes);
      const by = new Map(all.map((r) => [r.entry.path.replace(/^\.\//, "").replace(/\/$/, ""), r]));
      assert.deepEqual(by.get("big.bin")?.data, t.big);
      assert.equal(by.get("big.bin")?.entry.mode, 0o604);
      assert.equal(by.get("big.bin")?.entry.mtimeNs, BigInt(Date.parse("2019-01-02T03:04:05Z")) * 1_000_000n);
      assert.equal(by.get("link")?.entry.type, "symlink");
      assert.equal(by.get("link")?.entry.linkname?.toString(), "big.bin");
      // Sorted by name, big.bin comes first and hard links to it.
      assert.equal(by.get("hard")?.entry.type, "hardlink");
      assert.equal(by.get("hard")?.entry.linkname?.toString().replace(/^\.\//, ""), "big.bin");
      assert.equal(by.get("ünïcödé.txt")?.data.toString(), "utf8\n");
      assert.equal(by.get(LONG)?.data.toString(), "long\n");
      assert.equal(by.get("")?.entry.type ?? by.get(".")?.entry.type, "dir");
    } finally {
      await t.cleanup();
    }
  });
}

async function written(): Promise<Buffer> {
  const parts: Buffer[] = [];
  const tar = new TarWriter({ write: (c) => void parts.push(Buffer.from(c)) });
  await tar.add({ path: "dir", type: "dir", mode: 0o755, mtimeNs: 0n });
  await tar.add({ path: Buffer.from([0x64, 0x69, 0x72, 0x2f, 0xff, 0xfe]), type: "file", mode: 0o644, mtimeNs: 1_700_000_000_123_456_789n, size: 5 }, Buffer.from("bytes"));
  await tar.add({ path: "dir/big", type: "file", mode: 0o600, mtimeNs: 0n, size: 2000, uid: 3_000_000, uname: "someone" }, Buffer.alloc(2000, 1));
  await tar.finish();
  return Buffer.concat(parts);
}

test("reads coffer's own tar: pax paths that are not UTF-8, nanosecond times, large ids", async () => {
  const all = await readAllEntries(await written(), 100);
  assert.deepEqual(all[1]?.entry.pathBytes, Buffer.from([0x64, 0x69, 0x72, 0x2f, 0xff, 0xfe]));
  assert.equal(all[1]?.entry.mtimeNs, 1_700_000_000_123_456_789n);
  assert.equal(all[1]?.data.toString(), "bytes");
  assert.equal(all[2]?.entry.uid, 3_000_000);
  assert.equal(all[2]?.entry.uname, "someone");
  assert.equal(all[2]?.data.length, 2000);
});

function damage(e: unknown, kind: string, path?: string): boolean {
  assert.ok(isCofferError(e, "CORRUPT"), String(e));
  assert.equal((e as CofferError).data.damage, kind);
  if (path !== undefined) assert.equal((e as CofferError).data.path, path);
  return true;
}

test("a tar cut inside a body names the entry", async () => {
  const bytes = await written();
  const cut = bytes.subarray(0, bytes.indexOf(Buffer.alloc(600, 1)) + 600);
  await assert.rejects(readAllEntries(cut), (e) => damage(e, "truncated", "dir/big"));
});

test("a tar without its end marker is truncated", async () => {
  const bytes = await written();
  await assert.rejects(readAllEntries(bytes.subarray(0, bytes.length - 1024)), (e) => damage(e, "truncated") && /after dir\/big/.test((e as Error).message));
});

test("a header whose checksum fails is damaged", async () => {
  const bytes = Buffer.from(await written());
  const at = bytes.lastIndexOf(Buffer.from("dir/big"));
  bytes[at + 2] = 0x58;
  await assert.rejects(readAllEntries(bytes), (e) => damage(e, "header") && /after/.test((e as Error).message));
});

test("an error of the stream underneath is blamed on the entry being read, or placed after the last one", async () => {
  const bytes = await written();
  const source = (async function* () {
    yield bytes.subarray(0, 5000); // inside the body of dir/big
    throw new Error("unexpected end of file");
  })();
  const run = async (): Promise<void> => {
    for await (const { body } of readTar(source)) for await (const _ of body);
  };
  await assert.rejects(run(), (e) => damage(e, "data", "dir/big") && /unexpected end of file/.test((e as Error).message));
  const between = (async function* () {
    yield bytes.subarray(0, 3000); // inside the pax header of dir/big
    throw new Error("incorrect header check");
  })();
  const run2 = async (): Promise<void> => {
    for await (const { body } of readTar(between)) for await (const _ of body);
  };
  await assert.rejects(run2(), (e) => damage(e, "data") && /damaged after dir\/\S+ \(incorrect header check\)/.test((e as Error).message));
});

test("GNU base-256 numbers", async () => {
  const bytes = Buffer.from(await written());
  // Rewrite the size field of dir/big (2000) in base-256 and fix the checksum.
  const h = bytes.lastIndexOf(Buffer.from("dir/big\0"));
  bytes.fill(0, h + 124, h + 136);
  bytes[h + 124] = 0x80;
  bytes.writeUInt16BE(2000, h + 134);
  bytes.fill(0x20, h + 148, h + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += bytes[h + i] as number;
  bytes.write(sum.toString(8).padStart(6, "0") + "\0 ", h + 148, "latin1");
  const all = await readAllEntries(bytes);
  assert.equal(all[2]?.entry.size, 2000);
});
