import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { forget } from "../../src/ops/forget.js";
import { prune } from "../../src/ops/prune.js";
import { decodeCachedIndex, encodeCachedIndex, INDEX_CACHE_FILE } from "../../src/repository/index-cache.js";
import { MasterIndex } from "../../src/repository/master-index.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { CountingBackend } from "../helpers/counting-backend.js";

const PASSWORD = "index-cache-test";
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "coffer-index-cache-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every entry of an index as sorted lines: what two loads must agree on. */
function entries(index: MasterIndex): string[] {
  return [...index.entries()].map((e) => `${e.id.toString("hex")} ${e.type} ${e.pack} ${e.offset} ${e.length} ${e.rawLength} ${e.compressed}`).sort();
}

async function backupTree(repo: Repository, name: string, tag: string): Promise<void> {
  const src = join(dir, name);
  for (let i = 0; i < 3; i++) {
    await mkdir(join(src, `d${i}`), { recursive: true });
    await writeFile(join(src, `d${i}`, "f.txt"), `${tag} ${i}\n`.repeat(100));
  }
  await backup(repo, { paths: [src], workers: 1 });
}

/** Opens the repository through a counting (local, not remote) backend with a cache under `cacheDir`. */
async function open(store: MemoryBackend, cacheDir: string): Promise<{ repo: Repository; counted: CountingBackend; problems: string[] }> {
  const counted = new CountingBackend(store, false);
  const problems: string[] = [];
  const repo = await Repository.open(counted, { password: PASSWORD, cache: { dir: cacheDir, onProblem: (m) => problems.push(m) } });
  counted.reset();
  await repo.loadIndex();
  return { repo, counted, problems };
}

/** The index as the index files alone give it (no cache). */
async function truth(store: MemoryBackend): Promise<{ entries: string[]; files: string[] }> {
  const repo = await Repository.open(store, { password: PASSWORD });
  await repo.loadIndex();
  return { entries: entries(repo.index), files: [...repo.index.files].sort() };
}

async function newRepo(name: string): Promise<MemoryBackend> {
  const store = new MemoryBackend(`memory:${name}`);
  const repo = await Repository.init(store, { password: PASSWORD, kdf: TEST_KDF });
  await backupTree(repo, `${name}-a`, "a");
  await backupTree(repo, `${name}-b`, "b");
  return store;
}

describe("the index cache", () => {
  it("encodes and decodes an index exactly, and refuses a damaged one", () => {
    const index = new MasterIndex();
    const id = (n: number): Buffer => Buffer.alloc(32, n);
    index.add("aa".repeat(32), { id: id(1), type: "data", offset: 0, length: 100, rawLength: 90, compressed: true });
    index.add("bb".repeat(32), { id: id(2), type: "tree", offset: 7, length: 5, rawLength: 4, compressed: false });
    // The same blob in two packs (an interrupted backup): both entries survive.
    index.add("bb".repeat(32), { id: id(1), type: "data", offset: 12, length: 100, rawLength: 90, compressed: true });
    const encoded = encodeCachedIndex({ listed: ["01".repeat(32), "02".repeat(32)], superseded: ["02".repeat(32)], arrays: index.toArrays() });
    const back = decodeCachedIndex(encoded);
    assert.deepEqual(back.listed, ["01".repeat(32), "02".repeat(32)]);
    assert.deepEqual(back.superseded, ["02".repeat(32)]);
    const again = new MasterIndex();
    again.fromArrays(back.arrays);
    assert.deepEqual(entries(again), entries(index));
    assert.equal(again.entriesOf(id(1)).length, 2);
    assert.equal(again.lookup(id(2))?.type, "tree");
    for (const at of [0, 20, encoded.length >> 1, encoded.length - 1]) {
      const bad = Buffer.from(encoded);
      bad[at] = (bad[at] as number) ^ 1;
      assert.throws(() => decodeCachedIndex(bad), /not an index cache/, `byte ${at} flipped`);
    }
    assert.throws(() => decodeCachedIndex(encoded.subarray(0, encoded.length - 40)), /not an index cache/);
  });

  it("serves a second load without reading an index file, and reads only the files written since", async () => {
    const store = await newRepo("second");
    const cacheDir = join(dir, "cache-second");
    const first = await open(store, cacheDir);
    assert.ok(first.counted.loads.index > 0);
    const want = await truth(store);
    assert.deepEqual(entries(first.repo.index), want.entries);

    const second = await open(store, cacheDir);
    assert.equal(second.counted.loads.index, 0, "no index file read: the cache had them all");
    assert.deepEqual(entries(second.repo.index), want.entries);
    assert.deepEqual([...second.repo.index.files].sort(), want.files);
    assert.deepEqual(second.problems, []);

    // A backup through a repository without the cache (another machine, --no-cache) adds
    // index files; the next load reads those and no others.
    const before = new Set(want.files);
    const other = await Repository.open(store, { password: PASSWORD });
    await backupTree(other, "second-c", "c");
    const after = await truth(store);
    const added = after.files.filter((f) => !before.has(f));
    assert.ok(added.length > 0);
    const third = await open(store, cacheDir);
    assert.equal(third.counted.loads.index, added.length, "only the new index files are read");
    assert.deepEqual(entries(third.repo.index), after.entries);
    assert.deepEqual([...third.repo.index.files].sort(), after.files);
  });

  it("is brought up to date by a backup: the next load reads none of the index files it wrote", async () => {
    const store = await newRepo("after-backup");
    const cacheDir = join(dir, "cache-after-backup");
    const first = await open(store, cacheDir);
    await backupTree(first.repo, "after-backup-c", "c");
    await backupTree(first.repo, "after-backup-d", "d");
    const want = await truth(store);
    const next = await open(store, cacheDir);
    assert.equal(next.counted.loads.index, 0);
    assert.deepEqual(entries(next.repo.index), want.entries);
    assert.deepEqual([...next.repo.index.files].sort(), want.files);

    // The first backup into an empty repository leaves a cache too.
    const empty = new MemoryBackend("memory:after-backup-empty");
    const made = await Repository.init(empty, { password: PASSWORD, kdf: TEST_KDF });
    const emptyCache = join(dir, "cache-after-backup-empty");
    const cachedRepo = await Repository.open(empty, { password: PASSWORD, cache: { dir: emptyCache } });
    await backupTree(cachedRepo, "after-backup-e", "e");
    await made.close();
    const again = await open(empty, emptyCache);
    assert.equal(again.counted.loads.index, 0);
    assert.deepEqual(entries(again.repo.index), (await truth(empty)).entries);
  });

  it("is not trusted after prune: an index file that supersedes cached ones means a full load", async () => {
    const store = await newRepo("prune");
    const cacheDir = join(dir, "cache-prune");
    await open(store, cacheDir);
    const repo = await Repository.open(store, { password: PASSWORD });
    const snaps = await listSnapshots(repo);
    await forget(repo, { ids: [snaps[0]!.id] });
    await prune(repo, {});
    const want = await truth(store);
    const again = await open(store, cacheDir);
    assert.deepEqual(entries(again.repo.index), want.entries, "the index after prune, not the cached one");
    assert.deepEqual([...again.repo.index.files].sort(), want.files);
    // The cache now holds the pruned index: the next load reads nothing.
    const next = await open(store, cacheDir);
    assert.equal(next.counted.loads.index, 0);
    assert.deepEqual(entries(next.repo.index), want.entries);
  });

  it("is not trusted when an index file it was built from is gone", async () => {
    const store = await newRepo("gone");
    const cacheDir = join(dir, "cache-gone");
    const first = await open(store, cacheDir);
    const victim = [...first.repo.index.files][0]!;
    await store.remove({ type: "index", name: victim });
    const want = await truth(store);
    const again = await open(store, cacheDir);
    assert.ok(!again.repo.index.files.has(victim));
    assert.deepEqual(entries(again.repo.index), want.entries);
  });

  it("ignores, reports and replaces a damaged cache file", async () => {
    const store = await newRepo("damaged");
    const cacheDir = join(dir, "cache-damaged");
    const first = await open(store, cacheDir);
    const path = join(cacheDir, first.repo.config.id, INDEX_CACHE_FILE);
    const b = await readFile(path);
    b[b.length >> 1] = (b[b.length >> 1] as number) ^ 0xff;
    await writeFile(path, b);
    const want = await truth(store);
    const again = await open(store, cacheDir);
    assert.ok(again.counted.loads.index > 0, "the index files were read");
    assert.deepEqual(entries(again.repo.index), want.entries);
    assert.match(again.problems.join("\n"), /index cache .* is damaged/);
    const next = await open(store, cacheDir);
    assert.equal(next.counted.loads.index, 0, "rewritten whole");
    assert.deepEqual(next.problems, []);
  });

  it("cannot be read with another repository's key", async () => {
    const a = await newRepo("key-a");
    const b = await newRepo("key-b");
    const cacheDir = join(dir, "cache-key");
    const ra = await open(a, cacheDir);
    const rb = await Repository.open(b, { password: PASSWORD });
    // Plant a's cache file where b's would be.
    await mkdir(join(cacheDir, rb.config.id), { recursive: true });
    await writeFile(join(cacheDir, rb.config.id, INDEX_CACHE_FILE), await readFile(join(cacheDir, ra.repo.config.id, INDEX_CACHE_FILE)));
    const again = await open(b, cacheDir);
    assert.deepEqual(entries(again.repo.index), (await truth(b)).entries);
    assert.match(again.problems.join("\n"), /damaged/);
  });

  it("is not used without a cache (check reads the repository itself)", async () => {
    const store = await newRepo("none");
    const cacheDir = join(dir, "cache-none");
    await open(store, cacheDir);
    const counted = new CountingBackend(store, false);
    const repo = await Repository.open(counted, { password: PASSWORD });
    counted.reset();
    await repo.loadIndex();
    assert.ok(counted.loads.index > 0);
  });
});
