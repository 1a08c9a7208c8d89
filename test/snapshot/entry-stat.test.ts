import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Warning } from "../../src/core/warning.js";
import { type EntryStat, type ListedEntry, parseListing } from "../../src/snapshot/entry-stat.js";
import { loadNative } from "../../src/snapshot/native.js";
import { type ScanEntry, type ScanFs, Scanner } from "../../src/snapshot/scanner.js";
import { syncScanFs } from "../../src/snapshot/sync-scan-fs.js";
import { lookupPath } from "../../src/snapshot/walker.js";
import { sandbox, snapshots } from "../faults/fault-helpers.js";

// The addon is built by `npm ci` (scripts/build-native.mjs); the walk lists directories
// through it, so a checkout without it is not what users run.
const native = loadNative();
const scandir = (dir: Buffer): Buffer => {
  assert.ok(native?.scandir, "the native addon with scandir is built (npm ci builds it)");
  return native.scandir(dir);
};

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "coffer-entry-stat-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const FIELDS = ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "atimeNs", "mtimeNs", "ctimeNs"] as const;

/** `atime`: false where the scanner itself reads a file between the two lstats (.cofferignore). */
function sameStat(got: EntryStat, want: EntryStat, what: string, atime = true): void {
  for (const f of FIELDS) if (atime || f !== "atimeNs") assert.equal(got[f], want[f], `${what}: ${f}`);
  assert.equal(got.isFile(), want.isFile(), `${what}: isFile`);
  assert.equal(got.isDirectory(), want.isDirectory(), `${what}: isDirectory`);
  assert.equal(got.isSymbolicLink(), want.isSymbolicLink(), `${what}: isSymbolicLink`);
}

/** A directory with one of everything a walk meets. */
async function fixture(): Promise<Buffer> {
  const dir = Buffer.from(await mkdtemp(join(base, "d-")));
  const at = (name: string | Buffer): Buffer => Buffer.concat([dir, Buffer.from("/"), Buffer.from(name)]);
  await writeFile(at("file"), "some bytes");
  await writeFile(at("empty"), "");
  await link(at("file"), at("hard link"));
  await mkdir(at("sub dir"));
  await symlink("file", at("link"));
  await symlink("/nowhere/at/all", at("dangling"));
  await writeFile(at(Buffer.from([0x6e, 0xff, 0x0a, 0x6d])), "not UTF-8, with a newline");
  await writeFile(at("ünï€ode 😀"), "x");
  execFileSync("mkfifo", [at("fifo").toString()]);
  await writeFile(at("x".repeat(255)), "a name as long as ext4 allows");
  return dir;
}

test("scandir lists every entry of a directory with the lstat fs gives for it", async () => {
  const dir = await fixture();
  const listed = parseListing(scandir(dir), dir);
  assert.equal(listed.length, 10);
  for (const e of listed) {
    assert.equal(e.error, undefined);
    const path = Buffer.concat([dir, Buffer.from("/"), e.name]);
    sameStat(e.stat as EntryStat, lstatSync(path, { bigint: true }), e.name.toString());
  }
  const names = listed.map((e) => e.name.toString("latin1")).sort();
  assert.ok(names.includes(Buffer.from([0x6e, 0xff, 0x0a, 0x6d]).toString("latin1")));
  assert.ok(!names.includes(".") && !names.includes(".."));
  const hard = listed.find((e) => e.name.toString() === "hard link");
  assert.equal(hard?.stat?.nlink, 2n);
  assert.equal(listed.find((e) => e.name.toString() === "dangling")?.stat?.isSymbolicLink(), true);
});

test("scandir of an empty directory is empty; of a missing path or a file, the error fs gives", async () => {
  const empty = Buffer.from(await mkdtemp(join(base, "e-")));
  assert.deepEqual(parseListing(scandir(empty), empty), []);
  assert.throws(() => scandir(Buffer.from(join(base, "missing"))), (e: NodeJS.ErrnoException) => e.code === "ENOENT" && e.syscall === "scandir");
  const file = join(base, "a-file");
  await writeFile(file, "");
  assert.throws(() => scandir(Buffer.from(file)), (e: NodeJS.ErrnoException) => e.code === "ENOTDIR");
  assert.throws(() => scandir(Buffer.from("bad\0path")), /NUL/);
});

async function readAll(fs: ScanFs, root: Buffer, warn: (w: Warning) => void = () => {}, opts = {}): Promise<ScanEntry[]> {
  const scanner = await Scanner.create(opts, warn, fs);
  const { entries } = await scanner.readDir(root, scanner.rootScope(root, lstatSync(root, { bigint: true })));
  return entries;
}

test("the scanner reads a directory the same through the addon's listing as through fs", async () => {
  const dir = await fixture();
  await writeFile(join(dir.toString(), ".cofferignore"), "empty\n");
  const withoutList: ScanFs = { ...syncScanFs, sync: { readdir: syncScanFs.sync!.readdir, lstat: syncScanFs.sync!.lstat } };
  let listCalls = 0;
  const counted: ScanFs = { ...syncScanFs, sync: { ...syncScanFs.sync!, list: (d) => (listCalls++, syncScanFs.sync!.list!(d)) } };
  for (const opts of [{}, { excludes: ["*.txt", "fifo"] }, { excludeLargerThan: 5 }]) {
    const a = await readAll(counted, dir, undefined, opts);
    const b = await readAll(withoutList, dir, undefined, opts);
    assert.deepEqual(a.map((e) => e.name), b.map((e) => e.name));
    assert.deepEqual(a.map((e) => e.path), b.map((e) => e.path));
    a.forEach((e, i) => sameStat(e.stat, (b[i] as ScanEntry).stat, e.name.toString(), false));
    assert.ok(!a.some((e) => e.name.toString() === "empty"), ".cofferignore applies");
  }
  assert.equal(listCalls, 3, "the listing was used");
});

test("a listed entry whose lstat failed is skipped, with a warning unless it is gone", async () => {
  const dir = await fixture();
  const real = syncScanFs.sync!.list!(dir) as ListedEntry[];
  const fail = (name: string, code: string): void => {
    const e = real.find((x) => x.name.toString() === name) as ListedEntry;
    const err: NodeJS.ErrnoException = new Error(`${code}: lstat '${name}'`);
    err.code = code;
    e.stat = undefined;
    e.error = err;
  };
  fail("file", "EACCES");
  fail("empty", "ENOENT");
  const fs: ScanFs = { ...syncScanFs, sync: { ...syncScanFs.sync!, list: () => real } };
  const warnings: Warning[] = [];
  const entries = await readAll(fs, dir, (w) => warnings.push(w));
  const names = entries.map((e) => e.name.toString());
  assert.ok(!names.includes("file") && !names.includes("empty"));
  assert.ok(names.includes("hard link"));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.code, "UNREADABLE");
  assert.match(warnings[0]?.message ?? "", /file: EACCES/);
});

test("an lstat error from the listing reads as fs's would (code, errno, message)", () => {
  const dir = Buffer.from("/d");
  const rec = Buffer.alloc(12 * 8 + 4 + 8);
  rec.writeBigInt64LE(13n, 11 * 8); // EACCES
  rec.writeUInt32LE(1, 12 * 8);
  rec.write("n", 12 * 8 + 4);
  const [e] = parseListing(rec, dir);
  assert.equal(e?.stat, undefined);
  assert.equal(e?.error?.code, "EACCES");
  assert.equal(e?.error?.errno, -13);
  assert.equal(e?.error?.message, "EACCES: permission denied, lstat '/d/n'");
});

test("a backup through the listing and one through fs see the same files: the second finds nothing changed", async () => {
  const sb = await sandbox("entry-stat");
  try {
    const dir = await fixture();
    await rm(join(dir.toString(), "fifo"));
    await mkdir(join(dir.toString(), "sub dir", "deeper"));
    await writeFile(join(dir.toString(), "sub dir", "deeper", "f"), "deep");
    const first = await sb.cli(["backup", "--json", dir.toString()]);
    assert.equal(first.code, 0, first.err);
    const second = await sb.cli(["backup", "--json", dir.toString()], { env: { ...sb.env, COFFER_NATIVE: "0" } });
    assert.equal(second.code, 0, second.err);
    const a = JSON.parse(first.out);
    const b = JSON.parse(second.out);
    assert.equal(b.summary.files_new + b.summary.files_changed, 0, JSON.stringify(b.summary));
    assert.equal(b.summary.files_unmodified, b.summary.files_total);
    assert.equal(b.summary.files_total, a.summary.files_total);
    assert.equal(b.summary.dirs_changed + b.summary.dirs_new, 0, JSON.stringify(b.summary));
    // The tree of the directory backed up (the root tree also holds the temp dir's parents,
    // which other tests change).
    const snaps = await snapshots(sb);
    const repo = await sb.open();
    await repo.loadIndex();
    const tree = async (id: string): Promise<string | undefined> => (await lookupPath(repo, snaps.find((x) => x.id === id)?.tree as string, dir.toString())).treeId;
    const ta = await tree(a.snapshot_id);
    assert.ok(ta);
    assert.equal(await tree(b.snapshot_id), ta, "the same tree, byte for byte");
    await repo.close();
  } finally {
    await sb.cleanup();
  }
});
