import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { backup } from "../../src/snapshot/archiver.js";
import { dump, dumpTar, splitDev } from "../../src/snapshot/dump.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";

function sink() {
  const chunks: Buffer[] = [];
  return { chunks, write: (c: Buffer) => void chunks.push(Buffer.from(c)), bytes: () => Buffer.concat(chunks) };
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "coffer-dump-"));
  const src = join(dir, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  const big = randomBytes(3 * 1024 * 1024 + 17); // several chunks
  await writeFile(join(src, "big.bin"), big);
  await writeFile(join(src, "sub", "a.txt"), "alpha\n");
  await link(join(src, "sub", "a.txt"), join(src, "sub", "a-hardlink.txt"));
  await symlink("../big.bin", join(src, "sub", "link"));
  await writeFile(join(src, "sub", "empty"), "");
  const repo = await Repository.init(new MemoryBackend(), { password: "pw", kdf: TEST_KDF });
  const snap = (await backup(repo, { paths: [src], workers: 1 })).snapshot!;
  return { dir, src, big, repo, snap, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("dump writes a file's bytes blob by blob", async () => {
  const s = await setup();
  try {
    const out = sink();
    const r = await dump(s.repo, s.snap.tree, `${s.src}/big.bin`, out);
    assert.equal(r.format, "file");
    assert.equal(r.bytes, s.big.length);
    assert.ok(out.chunks.length > 1, "streamed in several writes");
    assert.deepEqual(out.bytes(), s.big);
  } finally {
    await s.cleanup();
  }
});

test("dump of a directory is a tar that system tar extracts to the same files", async () => {
  const s = await setup();
  try {
    const out = sink();
    const r = await dump(s.repo, s.snap.tree, s.src, out);
    assert.equal(r.format, "tar");
    assert.equal(r.entries, 7); // src, big.bin, sub, a-hardlink.txt, a.txt, empty, link
    const target = join(s.dir, "out");
    await mkdir(target);
    const x = spawnSync("tar", ["-xf", "-", "-C", target], { input: out.bytes() });
    assert.equal(x.status, 0, x.stderr.toString());
    const base = join(target, s.src.slice(1));
    assert.deepEqual(await readFile(join(base, "big.bin")), s.big);
    assert.equal(await readFile(join(base, "sub", "a.txt"), "utf8"), "alpha\n");
    // The hard link is stored once and linked: both names share an inode again.
    const a = await stat(join(base, "sub", "a.txt"));
    const b = await stat(join(base, "sub", "a-hardlink.txt"));
    assert.equal(a.ino, b.ino);
    assert.equal((await stat(join(base, "sub", "link"))).size, s.big.length);
    const orig = await stat(join(s.src, "sub", "a.txt"), { bigint: true });
    assert.equal((await stat(join(base, "sub", "a.txt"), { bigint: true })).mtimeNs, orig.mtimeNs);
    const d = spawnSync("diff", ["-r", "--no-dereference", s.src, base]);
    assert.equal(d.status, 0, d.stdout.toString());
  } finally {
    await s.cleanup();
  }
});

test("dumpTar of / holds the whole snapshot, paths without the leading slash", async () => {
  const s = await setup();
  try {
    const out = sink();
    await dumpTar(s.repo, s.snap.tree, "/", out);
    const list = spawnSync("tar", ["-tf", "-"], { input: out.bytes() });
    const names = list.stdout.toString().trim().split("\n");
    assert.equal(names[0], `${s.src.split("/")[1]}/`);
    assert.ok(names.includes(`${s.src.slice(1)}/sub/a.txt`));
    await assert.rejects(dump(s.repo, s.snap.tree, `${s.src}/missing`, sink()), (e) => isCofferError(e, "NOT_FOUND"));
  } finally {
    await s.cleanup();
  }
});

test("splitDev decodes Linux device numbers", () => {
  // makedev(8, 1) = 0x801; makedev(259, 65536) uses the high bits of both.
  assert.deepEqual(splitDev(0x801n), { major: 8, minor: 1 });
  const major = 259n;
  const minor = 65536n;
  const dev = ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  assert.deepEqual(splitDev(dev), { major: 259, minor: 65536 });
});
