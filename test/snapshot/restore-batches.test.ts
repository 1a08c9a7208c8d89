/**
 * Restores planned and written a few files at a time (tiny batches), from a local repository
 * (the workers read the pack ranges themselves) and from one that is not (the main thread
 * fetches them): the result is the same as in one batch, whatever crosses a batch boundary
 * (hard links, blobs shared by files, directories only walked through, --delete).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import type { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { restore, type RestoreOptions } from "../../src/snapshot/restorer.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { testRepo } from "../helpers/restore-fixtures.js";

let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), "coffer-restore-batches-"));
});
after(() => {
  rmSync(base, { recursive: true, force: true });
});

function fresh(name: string): string {
  const p = join(base, `${name}${n++}`);
  mkdirSync(p, { recursive: true });
  return p;
}

/** Every path below root with what it is: "dir", the sha256 of a file, and its mode and mtime. */
function scan(root: string, rel = "", out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, r));
    const what = st.isDirectory() ? "dir" : createHash("sha256").update(readFileSync(join(root, r))).digest("hex");
    out.set(r, `${what} ${st.mode.toString(8)} ${st.mtimeMs}`);
    if (st.isDirectory()) scan(root, r, out);
  }
  return out;
}

/** 3 levels of directories, small files, a large file, blobs shared by several files, hard links. */
function makeSource(): string {
  const src = fresh("src");
  const big = randomBytes(3 * 1024 * 1024);
  const put = (rel: string, data: string | Buffer): void => {
    mkdirSync(dirname(join(src, rel)), { recursive: true });
    writeFileSync(join(src, rel), data);
  };
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      for (let f = 0; f < 4; f++) put(`d${a}/e${b}/f${f}.txt`, `file ${a} ${b} ${f} `.repeat(50 * (f + 1)));
    }
    put(`d${a}/big`, big); // one set of blobs in three files
  }
  put("only/deep/inside/x.log", "deep");
  mkdirSync(join(src, "empty/inner"), { recursive: true });
  linkSync(join(src, "d0/e0/f0.txt"), join(src, "d2/e2/link-to-f0"));
  return src;
}

async function snap(repo: Repository, dir: string): Promise<SnapshotWithId> {
  const b = await backup(repo, { paths: [dir], parent: false });
  assert.ok(b.snapshot);
  return b.snapshot;
}

for (const kind of ["local", "memory"] as const) {
  describe(`restore in batches (${kind} repository)`, () => {
    let repo: Repository;
    let src: string;
    let s: SnapshotWithId;
    let want: Map<string, string>;
    before(async () => {
      repo = await testRepo(kind === "local" ? new LocalBackend(fresh("repo")) : new MemoryBackend(), { packSize: 64 * 1024 });
      assert.equal(repo.backend.localRoot?.() !== undefined, kind === "local");
      src = makeSource();
      s = await snap(repo, src);
      want = scan(src);
    });

    const run = (target: string, extra: Partial<RestoreOptions> = {}) => restore(repo, { snapshot: s, target, subPath: src, workers: 2, ...extra });

    for (const batch of [1, 3, 1000]) {
      test(`batches of ${batch}: the same files, contents, modes and times, hard links kept`, async () => {
        const target = fresh("out");
        const r = await run(target, { batch, verify: true });
        assert.deepEqual(r.errors, []);
        assert.deepEqual(scan(target), want);
        assert.equal(statSync(join(target, "d2/e2/link-to-f0")).ino, statSync(join(target, "d0/e0/f0.txt")).ino);
        assert.equal(r.filesRestored, 3 * 3 * 4 + 3 + 1 + 1);
        assert.deepEqual(r.verified, { files: r.filesRestored - 1, bytes: r.bytesRestored, mismatches: 0 }); // the hard link is its primary
      });
    }

    test("directories only walked through are made when a later batch restores something below them", async () => {
      const target = fresh("out");
      const r = await run(target, { batch: 1, include: ["*.log", "/d1/e2/f3.txt"] });
      assert.deepEqual(r.errors, []);
      assert.deepEqual([...scan(target).keys()], ["d1", "d1/e2", "d1/e2/f3.txt", "only", "only/deep", "only/deep/inside", "only/deep/inside/x.log"]);
      assert.equal(readFileSync(join(target, "only/deep/inside/x.log"), "utf8"), "deep");
    });

    test("--delete in batches removes only what the snapshot does not hold", async () => {
      const target = fresh("out");
      await run(target, { batch: 2 });
      writeFileSync(join(target, "d1/e1/extra"), "x");
      writeFileSync(join(target, "d1/e1/f0.txt"), "changed");
      const r = await run(target, { batch: 2, delete: true });
      assert.deepEqual(r.errors, []);
      assert.equal(r.deleted, 1);
      assert.deepEqual(scan(target), want);
    });
  });
}

describe("restore from a local repository with a damaged pack (workers read the packs)", () => {
  test("a short pack fails the files that need it, naming the pack; the others restore", async () => {
    const root = fresh("repo");
    const repo = await testRepo(new LocalBackend(root), { packSize: 1024 });
    const src = fresh("src");
    writeFileSync(join(src, "bad"), randomBytes(100_000));
    writeFileSync(join(src, "good"), randomBytes(100_000));
    const s = await snap(repo, src);
    const id = repo.blobId(readFileSync(join(src, "bad")));
    const pack = repo.index.lookup(id)?.pack ?? "";
    assert.notEqual(pack, repo.index.lookup(repo.blobId(readFileSync(join(src, "good"))))?.pack);
    truncateSync(join(root, "data", pack.slice(0, 2), pack), 10);
    const target = fresh("out");
    const r = await restore(repo, { snapshot: s, target, subPath: src, workers: 2 });
    assert.deepEqual(r.errors.map((e) => [e.path, e.pack, e.code]), [[join(target, "bad"), pack, "CORRUPT"]]);
    assert.match(r.errors[0]?.message ?? "", new RegExp(`pack ${pack.slice(0, 8)} could not be read`));
    assert.deepEqual(readFileSync(join(target, "good")), readFileSync(join(src, "good")));
    assert.equal(r.filesRestored, 1);
  });
});
