import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { handlePath, type FileType, type Handle } from "../../src/backend/backend.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { forget } from "../../src/ops/forget.js";
import { prune } from "../../src/ops/prune.js";
import { sha256Hex } from "../../src/repository/file-codec.js";
import { packHashHex } from "../../src/repository/pack-hash.js";

/** A repository file's name from its bytes: packs by BLAKE3 (new repositories), the rest by SHA-256. */
const fileHash = (type: FileType, bytes: Uint8Array): string => (type === "data" ? packHashHex("blake3", bytes) : sha256Hex(bytes));
import { INDEX_CACHE_FILE } from "../../src/repository/index-cache.js";
import { defaultCacheRoot, LocalCache } from "../../src/repository/local-cache.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { isCacheDirTag } from "../../src/snapshot/filters.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { walkTree } from "../../src/snapshot/walker.js";
import { CountingBackend } from "../helpers/counting-backend.js";

const PASSWORD = "cache-test";
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "coffer-cache-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A source tree of a few nested directories (several tree blobs) under `root`. */
async function makeSource(root: string, tag: string): Promise<string> {
  for (let i = 0; i < 4; i++) {
    await mkdir(join(root, `d${i}`, "sub"), { recursive: true });
    await writeFile(join(root, `d${i}`, "file.txt"), `${tag} ${i}\n`);
    await writeFile(join(root, `d${i}`, "sub", "deep.txt"), `${tag} deep ${i}\n`.repeat(50));
  }
  return root;
}

interface Fixture {
  store: MemoryBackend;
  /** Source directories backed up, one snapshot each. */
  sources: string[];
}

/** A repository in memory holding one snapshot of each of `n` source directories, written without a cache. */
async function fixture(name: string, n = 2): Promise<Fixture> {
  const store = new MemoryBackend(`memory:${name}`);
  const repo = await Repository.init(store, { password: PASSWORD, kdf: TEST_KDF });
  const sources: string[] = [];
  for (let i = 0; i < n; i++) {
    const src = await makeSource(join(dir, name, `src${i}`), `${name}-${i}`);
    await backup(repo, { paths: [src], workers: 1 });
    sources.push(src);
  }
  await repo.close();
  return { store, sources };
}

interface Opened {
  repo: Repository;
  counted: CountingBackend;
  problems: string[];
}

async function openCached(store: MemoryBackend, cacheDir: string, remote = true): Promise<Opened> {
  const counted = new CountingBackend(store, remote);
  const problems: string[] = [];
  const repo = await Repository.open(counted, { password: PASSWORD, cache: { dir: cacheDir, onProblem: (m) => problems.push(m) } });
  counted.reset();
  return { repo, counted, problems };
}

/** What `coffer snapshots` + `coffer ls` of every snapshot read: the index, every snapshot, every tree. */
async function readEverything(repo: Repository): Promise<string[]> {
  await repo.loadIndex();
  const out: string[] = [];
  for (const s of await listSnapshots(repo)) {
    await walkTree(repo, s.tree, (e) => void out.push(`${s.id.slice(0, 8)} ${e.path}`));
  }
  return out.sort();
}

/** Paths of the files in the cache of a repository, by type. */
async function cached(cache: LocalCache, type: FileType): Promise<string[]> {
  const top = join(cache.dir, type === "snapshot" ? "snapshots" : type);
  const names: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else names.push(e.name);
    }
  };
  await walk(top);
  return names.sort();
}

async function listed(store: MemoryBackend, type: FileType): Promise<string[]> {
  const out: string[] = [];
  for await (const f of store.list(type)) out.push(f.name);
  return out.sort();
}

async function flipByte(path: string): Promise<void> {
  const b = await readFile(path);
  const i = b.length >> 1;
  b[i] = (b[i] as number) ^ 0xff;
  await writeFile(path, b);
}

describe("the local cache of a remote repository", () => {
  it("serves index files, snapshots and tree packs to a second run: no backend reads for them", async () => {
    const fx = await fixture("second");
    const cacheDir = join(dir, "cache-second");
    const first = await openCached(fx.store, cacheDir);
    const seen = await readEverything(first.repo);
    const firstLoads = { ...first.counted.loads };
    await first.repo.close();
    assert.ok(firstLoads.index > 0 && firstLoads.snapshot === 2 && firstLoads.data > 0, `the first run reads from the backend: ${JSON.stringify(firstLoads)}`);

    const second = await openCached(fx.store, cacheDir);
    assert.deepEqual(await readEverything(second.repo), seen, "the same snapshots and trees");
    assert.equal(second.counted.cacheableLoads, 0, `no index, snapshot or pack loads: ${JSON.stringify(second.counted.loads)}`);
    // The index comes from the index cache (index-cache.ts) without reading its files.
    assert.equal(second.repo.cache?.counters.hits, firstLoads.snapshot + firstLoads.data);
    assert.deepEqual(second.problems, []);
    await second.repo.close();

    // Only tree packs are kept, not data packs.
    const idx = (await openCached(fx.store, cacheDir)).repo;
    await idx.loadIndex();
    const treePacks = new Set<string>();
    const dataPacks = new Set<string>();
    for (const s of await listSnapshots(idx)) {
      await walkTree(idx, s.tree, (e) => {
        for (const id of e.node.content ?? []) dataPacks.add(idx.index.lookup(Buffer.from(id, "hex"))!.pack);
        if (e.node.subtree) treePacks.add(idx.index.lookup(Buffer.from(e.node.subtree, "hex"))!.pack);
      });
    }
    const inCache = new Set(await cached(idx.cache as LocalCache, "data"));
    for (const p of treePacks) assert.ok(inCache.has(p), `tree pack ${p.slice(0, 8)} is cached`);
    for (const p of dataPacks) assert.ok(!inCache.has(p), `data pack ${p.slice(0, 8)} is not cached`);
    await idx.close();
  });

  it("is filled by a backup itself, so the next backup of the same files reads nothing but config, keys and locks", async () => {
    const fx = await fixture("writes", 1);
    const cacheDir = join(dir, "cache-writes");
    const src = fx.sources[0] as string;
    await writeFile(join(src, "d0", "file.txt"), "changed\n");
    const one = await openCached(fx.store, cacheDir);
    await backup(one.repo, { paths: [src], workers: 1 });
    await one.repo.close();

    const two = await openCached(fx.store, cacheDir);
    const r = await backup(two.repo, { paths: [src], workers: 1 });
    assert.equal(r.summary.files_unmodified, 8, "an unchanged backup, from its parent");
    assert.deepEqual({ index: two.counted.loads.index, snapshot: two.counted.loads.snapshot, data: two.counted.loads.data }, { index: 0, snapshot: 0, data: 0 });
    await two.repo.close();
  });

  it("detects a flipped byte in a cached index file, snapshot and tree pack, deletes it and reads the repository's copy", async () => {
    const fx = await fixture("flip", 1);
    const cacheDir = join(dir, "cache-flip");
    const warm = await openCached(fx.store, cacheDir);
    const seen = await readEverything(warm.repo);
    const cache = warm.repo.cache as LocalCache;
    await warm.repo.close();
    const victims: Handle[] = [
      { type: "index", name: (await cached(cache, "index"))[0] as string },
      { type: "snapshot", name: (await cached(cache, "snapshot"))[0] as string },
      { type: "data", name: (await cached(cache, "data"))[0] as string },
    ];
    for (const h of victims) await flipByte(join(cache.dir, handlePath(h)));
    // Without the index cache, the next load reads the (damaged) cached index file.
    await rm(join(cache.dir, INDEX_CACHE_FILE));

    const again = await openCached(fx.store, cacheDir);
    assert.deepEqual(await readEverything(again.repo), seen, "the command still gives the right answer");
    assert.deepEqual({ index: again.counted.loads.index, snapshot: again.counted.loads.snapshot, data: again.counted.loads.data }, { index: 1, snapshot: 1, data: 1 }, "each damaged file is read from the backend once");
    assert.equal(again.repo.cache?.counters.damaged, 3);
    assert.ok(again.problems.some((m) => /does not match its name/.test(m)), `a message for -v: ${again.problems.join("; ")}`);
    for (const h of victims) {
      const bytes = await readFile(join(cache.dir, handlePath(h)));
      assert.equal(fileHash(h.type, bytes), h.name, `${h.type} is cached again, sound`);
    }
    await again.repo.close();
  });

  it("drops the snapshots, index files and tree packs that forget and prune removed from the repository", async () => {
    const fx = await fixture("gone", 2);
    const cacheDir = join(dir, "cache-gone");
    const warm = await openCached(fx.store, cacheDir);
    await readEverything(warm.repo);
    const cache = warm.repo.cache as LocalCache;
    const before = { snapshot: await cached(cache, "snapshot"), index: await cached(cache, "index"), data: await cached(cache, "data") };
    assert.equal(before.snapshot.length, 2);
    const gone = (await listSnapshots(warm.repo)).find((s) => s.paths[0] === fx.sources[0]);
    await warm.repo.close();

    const plain = await Repository.open(fx.store, { password: PASSWORD });
    await forget(plain, { ids: [gone!.id], force: true });
    const pr = await prune(plain);
    await plain.close();
    assert.ok(pr.removedPacks.length > 0, "prune deleted the forgotten snapshot's packs");

    const after = await openCached(fx.store, cacheDir);
    await readEverything(after.repo);
    assert.deepEqual(await cached(cache, "snapshot"), await listed(fx.store, "snapshot"));
    assert.deepEqual(await cached(cache, "index"), await listed(fx.store, "index"));
    const packs = new Set(await listed(fx.store, "data"));
    const nowCached = await cached(cache, "data");
    for (const p of nowCached) assert.ok(packs.has(p), `cached pack ${p.slice(0, 8)} is still in the repository`);
    assert.ok(before.data.some((p) => !packs.has(p)), "a cached tree pack was pruned");
    assert.ok(!nowCached.includes(gone!.id));
    await after.repo.close();
  });

  it("never fails a command when the cache cannot be used: a file where the cache should be", async () => {
    const fx = await fixture("unusable", 1);
    const blocked = join(dir, "blocked-cache");
    await writeFile(blocked, "not a directory\n");
    const o = await openCached(fx.store, blocked);
    assert.equal(o.repo.cache, undefined);
    assert.ok((await readEverything(o.repo)).length > 0);
    assert.ok(o.counted.cacheableLoads > 0);
    assert.equal(o.problems.length, 1, o.problems.join("; "));
    assert.match(o.problems[0] as string, /cannot be used/);
    await o.repo.close();
  });

  it("never fails a command when a cache directory cannot be written or read: a file where snapshots/ should be", async () => {
    const fx = await fixture("unwritable", 1);
    const cacheDir = join(dir, "cache-unwritable");
    const warm = await openCached(fx.store, cacheDir);
    const seen = await readEverything(warm.repo);
    const cache = warm.repo.cache as LocalCache;
    await warm.repo.close();
    await rm(join(cache.dir, "snapshots"), { recursive: true });
    await writeFile(join(cache.dir, "snapshots"), "in the way\n");
    const o = await openCached(fx.store, cacheDir);
    assert.deepEqual(await readEverything(o.repo), seen);
    assert.equal(o.counted.loads.snapshot, 1);
    assert.ok(o.problems.length >= 1, "told once per kind of problem");
    await o.repo.close();
  });

  it("is not used for a local backend (which caches only its index), nor without the cache option", async () => {
    const fx = await fixture("local", 1);
    const cacheDir = join(dir, "cache-local");
    const o = await openCached(fx.store, cacheDir, false);
    assert.equal(o.repo.cache, undefined);
    await readEverything(o.repo);
    await o.repo.close();
    assert.deepEqual(await readdir(join(cacheDir, o.repo.config.id)), [INDEX_CACHE_FILE]);
    const plain = await Repository.open(new CountingBackend(fx.store), { password: PASSWORD });
    assert.equal(plain.cache, undefined);
    await plain.close();
  });

  it("tags its root with a CACHEDIR.TAG that backups recognise, and keeps one directory per repository", async () => {
    const fx = await fixture("tag", 1);
    const cacheDir = join(dir, "cache-tag");
    const o = await openCached(fx.store, cacheDir);
    assert.ok(isCacheDirTag(await readFile(join(cacheDir, "CACHEDIR.TAG"))));
    assert.equal(o.repo.cache?.dir, join(cacheDir, o.repo.config.id));
    await o.repo.close();
  });

  it("stays sound when two processes fill the same cache at once", async () => {
    const fx = await fixture("shared", 2);
    const cacheDir = join(dir, "cache-shared");
    const [a, b] = await Promise.all([openCached(fx.store, cacheDir), openCached(fx.store, cacheDir)]);
    const [ra, rb] = await Promise.all([readEverything(a.repo), readEverything(b.repo)]);
    assert.deepEqual(ra, rb);
    const cache = a.repo.cache as LocalCache;
    for (const type of ["index", "snapshot", "data"] as FileType[]) {
      for (const name of await cached(cache, type)) {
        assert.ok(!name.startsWith(".tmp-"), `no temp file left: ${name}`);
        assert.equal(fileHash(type, await readFile(join(cache.dir, handlePath({ type, name })))), name);
      }
    }
    await Promise.all([a.repo.close(), b.repo.close()]);
  });
});

describe("defaultCacheRoot", () => {
  it("is $XDG_CACHE_HOME/coffer, else ~/.cache/coffer (a relative XDG_CACHE_HOME is ignored)", () => {
    assert.equal(defaultCacheRoot({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" }), "/x/cache/coffer");
    assert.equal(defaultCacheRoot({ XDG_CACHE_HOME: "rel", HOME: "/home/u" }), "/home/u/.cache/coffer");
    assert.equal(defaultCacheRoot({ HOME: "/home/u" }), "/home/u/.cache/coffer");
  });
});
