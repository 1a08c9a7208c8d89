import assert from "node:assert/strict";
import type { BigIntStats } from "node:fs";
import { lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { NameLookup } from "../../src/snapshot/names.js";
import { nodeFromStat } from "../../src/snapshot/node-from-stat.js";
import { type DirScope, nodeScanFs, type ScanEntry, type ScanFs, Scanner } from "../../src/snapshot/scanner.js";
import { nameBytes } from "../../src/snapshot/tree.js";

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "coffer-scanner-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});
async function newRoot(): Promise<Buffer> {
  const root = join(base, `t${n++}`);
  await mkdir(root);
  return Buffer.from(root);
}
const cat = (dir: Buffer, name: Buffer | string) => Buffer.concat([dir, Buffer.from("/"), Buffer.from(name)]);
const st = (p: Buffer) => lstat(p, { bigint: true });

async function readRoot(scanner: Scanner, root: Buffer, rootStat?: BigIntStats): Promise<{ entries: ScanEntry[]; scope: DirScope }> {
  return scanner.readDir(root, scanner.rootScope(root, rootStat ?? (await st(root))));
}

const odd = [Buffer.from("with space"), Buffer.from("new\nline"), Buffer.from("ünï€ode 😀"), Buffer.from([0x66, 0xff, 0x6f])];

test("entries are sorted by their raw bytes", async () => {
  const root = await newRoot();
  const names = ["b", "B", "a", "é", "Z", "_", "a b", "ab", ...odd.map((b) => b.toString("latin1"))];
  for (const b of [...names.slice(0, 8).map((s) => Buffer.from(s)), ...odd]) await writeFile(cat(root, b), "");
  const scanner = await Scanner.create({}, () => {});
  const got = (await readRoot(scanner, root)).entries.map((e) => e.name);
  const want = [...names.slice(0, 8).map((s) => Buffer.from(s)), ...odd].sort(Buffer.compare);
  assert.deepEqual(got, want);
});

test("names with spaces, newlines, Unicode and invalid UTF-8 round-trip through readDir and nodeFromStat", async () => {
  const root = await newRoot();
  for (const b of odd) {
    await mkdir(cat(root, b));
    await writeFile(cat(cat(root, b), b), "x");
  }
  const scanner = await Scanner.create({ excludes: ["nomatch*"], ignoreFiles: [".gitignore"] }, () => {});
  const { entries, scope } = await readRoot(scanner, root);
  assert.deepEqual(entries.map((e) => e.name), [...odd].sort(Buffer.compare));
  const names = new NameLookup();
  for (const e of entries) {
    assert.deepEqual(e.path, cat(root, e.name));
    assert.deepEqual(nameBytes(nodeFromStat(e.name, e.stat, names)), e.name);
    const inner = await scanner.readDir(e.path, scope);
    assert.deepEqual(inner.entries.map((x) => x.name), [e.name]);
    assert.deepEqual(inner.entries[0]?.path, cat(e.path, e.name));
  }
});

test("symlinks are lstat'ed, not followed, and their nodes keep the target bytes", async () => {
  const root = await newRoot();
  await mkdir(cat(root, "dir"));
  const target = Buffer.from([0x2e, 0x2f, 0x64, 0x69, 0x72, 0xfe]);
  await symlink(target, cat(root, "link"));
  await symlink("dir", cat(root, "dirlink"));
  const scanner = await Scanner.create({}, () => {});
  const { entries } = await readRoot(scanner, root);
  const links = entries.filter((e) => e.stat.isSymbolicLink());
  assert.equal(links.length, 2);
  const link = entries.find((e) => e.name.toString() === "link");
  assert.ok(link);
  const got = await readlink(link.path, { encoding: "buffer" });
  const node = nodeFromStat(link.name, link.stat, new NameLookup(), got);
  assert.equal(node.type, "symlink");
  assert.equal(node.linktarget_raw, target.toString("base64"));
});

test("an entry that vanishes before its lstat is skipped silently; one that cannot be lstat'ed warns", async () => {
  const root = await newRoot();
  for (const name of ["a", "gone", "locked", "z"]) await writeFile(cat(root, name), "");
  const fs: ScanFs = {
    ...nodeScanFs,
    lstat: async (p) => {
      if (p.toString().endsWith("/gone")) throw Object.assign(new Error("ENOENT: gone"), { code: "ENOENT" });
      if (p.toString().endsWith("/locked")) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      return nodeScanFs.lstat(p);
    },
  };
  const warnings: Warning[] = [];
  const scanner = await Scanner.create({}, (w) => warnings.push(w), fs);
  const { entries } = await readRoot(scanner, root);
  assert.deepEqual(entries.map((e) => e.name.toString()), ["a", "z"]);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.code, "UNREADABLE");
  assert.ok(warnings[0]?.path?.endsWith("/locked"));
});

test("a directory that cannot be read throws CofferError IO", async () => {
  const root = await newRoot();
  const file = cat(root, "file");
  await writeFile(file, "");
  const scanner = await Scanner.create({}, () => {});
  await assert.rejects(scanner.readDir(file, scanner.rootScope(file, await st(file))), (e: unknown) => e instanceof CofferError && e.code === "IO");
  const missing = cat(root, "missing");
  await assert.rejects(scanner.readDir(missing, scanner.rootScope(missing, await st(root))), (e: unknown) => e instanceof CofferError && e.code === "IO");
});

test("a scope must come from the directory's parent, and a root must be absolute", async () => {
  const root = await newRoot();
  await mkdir(cat(root, "a/b"), { recursive: true });
  const scanner = await Scanner.create({}, () => {});
  const { scope } = await readRoot(scanner, root);
  await assert.rejects(scanner.readDir(cat(root, "a/b"), scope), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  await assert.rejects(scanner.readDir(root, scope), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  assert.throws(() => scanner.rootScope(Buffer.from("rel/path"), {} as BigIntStats), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  // A root given with a trailing slash or "." components is the same root.
  const sameRoot = Buffer.concat([root, Buffer.from("/./")]);
  assert.deepEqual((await scanner.readDir(sameRoot, scanner.rootScope(sameRoot, await st(root)))).entries.map((e) => e.name.toString()), ["a"]);
});

test("one-file-system: entries on another device than the root are left out, mount points kept empty", async () => {
  const root = await newRoot();
  await writeFile(cat(root, "f"), "");
  await mkdir(cat(root, "mnt/inner"), { recursive: true });
  await writeFile(cat(root, "mnt/inner/g"), "");
  const scanner = await Scanner.create({ oneFileSystem: true }, () => {});

  // The root claims another device: every entry in it is "foreign".
  const real = await st(root);
  const fake = Object.assign(Object.create(Object.getPrototypeOf(real) as object) as BigIntStats, real, { dev: real.dev + 1000n });
  const { entries, scope } = await readRoot(scanner, root, fake);
  assert.deepEqual(entries.map((e) => e.name.toString()), ["mnt"]);
  assert.deepEqual((await scanner.readDir(cat(root, "mnt"), scope)).entries, []);

  // A directory further down on another device (faked through the fs).
  const fs: ScanFs = {
    ...nodeScanFs,
    lstat: async (p) => {
      const s = await nodeScanFs.lstat(p);
      return p.toString().includes("/mnt") ? Object.assign(Object.create(Object.getPrototypeOf(s) as object) as BigIntStats, s, { dev: s.dev + 1n }) : s;
    },
  };
  const faked = await Scanner.create({ oneFileSystem: true }, () => {}, fs);
  const top = await readRoot(faked, root);
  assert.deepEqual(top.entries.map((e) => e.name.toString()), ["f", "mnt"]);
  assert.deepEqual((await faked.readDir(cat(root, "mnt"), top.scope)).entries, []);

  // Without the option everything is scanned.
  const all = await Scanner.create({}, () => {}, fs);
  const top2 = await readRoot(all, root);
  assert.deepEqual((await all.readDir(cat(root, "mnt"), top2.scope)).entries.map((e) => e.name.toString()), ["inner"]);
});

// Speed is measured by benchmarks, never by timed tests (a busy machine fails them); this
// checks that 20k entries under active patterns and ignore rules come back complete.
test("20k files under patterns and ignore rules are all listed", async () => {
  const root = await newRoot();
  const dirs = 200;
  for (let d = 0; d < dirs; d++) {
    const dir = cat(root, `d${d}`);
    await mkdir(dir);
    await Promise.all(Array.from({ length: 100 }, (_, i) => writeFile(cat(dir, `f${i}.txt`), "")));
  }
  await writeFile(cat(root, ".cofferignore"), "*.tmp\n!keep.tmp\nbuild/\n");
  const scanner = await Scanner.create({ excludes: ["*.o", "!x.o", `${root.toString()}/**/cache`] }, () => {});
  let files = 0;
  const { entries, scope } = await readRoot(scanner, root);
  await Promise.all(
    entries
      .filter((e) => e.stat.isDirectory())
      .map(async (e) => {
        const { entries: inner } = await scanner.readDir(e.path, scope);
        files += inner.length;
      }),
  );
  assert.equal(files, dirs * 100);
});
