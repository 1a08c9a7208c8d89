import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import { NameLookup } from "../../src/snapshot/names.js";
import { nodeFromStat } from "../../src/snapshot/node-from-stat.js";
import { isoFromNs, linkTargetBytes, nameBytes } from "../../src/snapshot/tree.js";

let base: string;
let names: NameLookup;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "coffer-node-"));
  await writeFile(join(base, "passwd"), "# users\nroot:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n");
  await writeFile(join(base, "group"), "root:x:0:\nstaff:x:50:alice\n");
  names = new NameLookup({ passwdFile: join(base, "passwd"), groupFile: join(base, "group") });
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});
const st = (p: string | Buffer) => lstat(p, { bigint: true });
const ISO_NS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

test("a regular file: every field from lstat, mode without the type bits", async () => {
  const p = join(base, "file");
  await writeFile(p, "hello");
  await chmod(p, 0o4751);
  const s = await st(p);
  const node = nodeFromStat(Buffer.from("file"), s, names);
  assert.equal(node.name, "file");
  assert.equal(node.name_raw, undefined);
  assert.equal(node.type, "file");
  assert.equal(node.mode, 0o4751);
  assert.equal(node.uid, Number(s.uid));
  assert.equal(node.gid, Number(s.gid));
  assert.equal(node.size, 5);
  assert.equal(node.links, 1);
  assert.equal(node.inode, s.ino.toString());
  assert.equal(node.device, s.dev.toString());
  assert.equal(node.mtime, isoFromNs(s.mtimeNs));
  assert.equal(node.ctime, isoFromNs(s.ctimeNs));
  assert.equal(node.atime, undefined, "atime is not stored: reading a directory changes it");
  assert.match(node.mtime, ISO_NS);
  assert.equal(node.rdev, undefined);
  assert.equal(node.xattrs, undefined);
  assert.equal(node.content, undefined);
  assert.equal(node.subtree, undefined);
});

test("a directory has size 0; a device keeps its rdev", async () => {
  const d = join(base, "dir");
  await mkdir(d);
  const dir = nodeFromStat(Buffer.from("dir"), await st(d), names);
  assert.equal(dir.type, "dir");
  assert.equal(dir.size, 0);
  const nullStat = await st("/dev/null");
  const dev = nodeFromStat(Buffer.from("null"), nullStat, names);
  assert.equal(dev.type, "chardev");
  assert.equal(dev.rdev, nullStat.rdev.toString());
});

test("a fifo", async (t) => {
  const p = join(base, "fifo");
  if (spawnSync("mkfifo", [p]).status !== 0) return t.skip("mkfifo is not available");
  assert.equal(nodeFromStat(Buffer.from("fifo"), await st(p), names).type, "fifo");
});

test("symlinks keep their target, as linktarget_raw when it is not UTF-8", async () => {
  const utf = join(base, "l1");
  await symlink("tärget/ü", utf);
  const n1 = nodeFromStat(Buffer.from("l1"), await st(utf), names, await readlink(utf, { encoding: "buffer" }));
  assert.equal(n1.type, "symlink");
  assert.equal(n1.linktarget, "tärget/ü");
  assert.equal(n1.linktarget_raw, undefined);

  const raw = Buffer.from([0x61, 0xff, 0x2f, 0x62]);
  const bad = join(base, "l2");
  await symlink(raw, bad);
  const n2 = nodeFromStat(Buffer.from("l2"), await st(bad), names, await readlink(bad, { encoding: "buffer" }));
  assert.deepEqual(linkTargetBytes(n2), raw);
});

test("a name that is not UTF-8 round-trips through name_raw", async () => {
  const name = Buffer.from([0x66, 0xff, 0x6f]);
  const p = Buffer.concat([Buffer.from(`${base}/`), name]);
  await writeFile(p, "");
  const node = nodeFromStat(name, await st(p), names);
  assert.ok(node.name_raw !== undefined);
  assert.deepEqual(nameBytes(node), name);
});

test("user and group names come from the passwd and group files; unknown ids leave them unset", async () => {
  const s = await st(join(base, "passwd"));
  const fake = (uid: bigint, gid: bigint) => Object.assign(Object.create(Object.getPrototypeOf(s) as object), s, { uid, gid });
  const a = nodeFromStat(Buffer.from("x"), fake(1000n, 50n), names);
  assert.equal(a.user, "alice"); // the first name for an id wins
  assert.equal(a.group, "staff");
  const b = nodeFromStat(Buffer.from("x"), fake(4242n, 4242n), names);
  assert.equal(b.uid, 4242);
  assert.ok(!("user" in b) && !("group" in b));
  const none = new NameLookup({ passwdFile: join(base, "nope"), groupFile: join(base, "nope") });
  assert.equal(none.user(0), undefined);
});

test("a file type a tree cannot hold is UNSUPPORTED", async () => {
  const s = await st(join(base, "passwd"));
  const weird = Object.assign(Object.create(Object.getPrototypeOf(s) as object), s, { mode: 0o160644n });
  assert.throws(() => nodeFromStat(Buffer.from("w"), weird, names), (e: unknown) => e instanceof CofferError && e.code === "UNSUPPORTED");
});
