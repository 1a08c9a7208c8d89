import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import type { BlobType } from "../../src/repository/blob.js";
import type { LocalCache } from "../../src/repository/local-cache.js";
import { Repository } from "../../src/repository/repository.js";
import { backup, prepareBackup } from "../../src/snapshot/archiver.js";
import { OldDir } from "../../src/snapshot/old-dir.js";
import { hasSpareTreePrefetch, TreePrefetch } from "../../src/snapshot/tree-prefetch.js";
import { lookupPath } from "../../src/snapshot/walker.js";
import { CountingBackend } from "../helpers/counting-backend.js";

const PASSWORD = "prefetch";

/**
 * A remote repository (a memory backend that says it is remote) with a local cache: the
 * parent's trees are read ahead by the prefetch worker from the cached tree packs; a pack the
 * cache lacks or holds damaged is read by the main thread through the repository.
 */
describe("reading a remote repository's parent trees ahead from its local cache", () => {
  let dir: string;
  let src: string;
  let cacheDir: string;
  const store = new MemoryBackend("memory:prefetch-cache");
  let firstTree: string;
  /** The first snapshot's tree of `src` (its root tree also holds the temp dir's parents, which other tests change). */
  let firstSrcTree: string | undefined;
  const srcTree = async (repo: Repository, root: string): Promise<string | undefined> => (await lookupPath(repo, root, src)).treeId;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-prefetch-"));
    src = join(dir, "src");
    // Outside `dir`: the cache's writes would change the metadata of the backed-up parents.
    cacheDir = mkdtempSync(join(tmpdir(), "coffer-prefetch-cache-"));
    // More directories than PREFETCH_MIN_DIRS, so that a worker reads the trees ahead.
    for (let a = 0; a < 20; a++) {
      for (let b = 0; b < 16; b++) {
        mkdirSync(join(src, `a${a}/b${b}`), { recursive: true });
        writeFileSync(join(src, `a${a}/b${b}/f`), `${a}/${b}`);
      }
    }
    await Repository.init(store, { password: PASSWORD, kdf: TEST_KDF }).then((r) => r.close());
    const { repo } = await openCached();
    const r = await backup(repo, { paths: [src] });
    firstTree = r.snapshot!.tree;
    firstSrcTree = await srcTree(repo, firstTree);
    await repo.close();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });

  /** The repository through a counting backend, with the cache; counts tree loads on the main thread. */
  async function openCached(): Promise<{ repo: Repository; counted: CountingBackend; mainTreeLoads: () => number; problems: string[] }> {
    const counted = new CountingBackend(store);
    const problems: string[] = [];
    const repo = await Repository.open(counted, { password: PASSWORD, cache: { dir: cacheDir, onProblem: (m) => problems.push(m) } });
    let trees = 0;
    const loadBlob = repo.loadBlob.bind(repo);
    repo.loadBlob = (type: BlobType, id: Buffer) => {
      if (type === "tree") trees++;
      return loadBlob(type, id);
    };
    counted.reset();
    return { repo, counted, mainTreeLoads: () => trees, problems };
  }

  function cachedPacks(): string[] {
    const root = join(readdirSync(cacheDir).map((d) => join(cacheDir, d)).find((d) => !d.endsWith("CACHEDIR.TAG")) as string, "data");
    return readdirSync(root).flatMap((sub) => readdirSync(join(root, sub)).map((name) => join(root, sub, name)));
  }

  it("reads every tree but the root in the worker, from the cache, when nothing changed", async () => {
    const { repo, counted, mainTreeLoads } = await openCached();
    const r = await backup(repo, { paths: [src] });
    const mainLoads = mainTreeLoads();
    const tree = await srcTree(repo, r.snapshot!.tree);
    await repo.close();
    assert.equal(tree, firstSrcTree);
    assert.equal(r.summary.files_unmodified, 320);
    assert.equal(r.summary.bytes_read, 0);
    assert.equal(mainLoads, 1, "only the root tree is loaded on the main thread");
    assert.equal(counted.loads.data, 0, "no pack is read from the repository");
  });

  it("takes the worker prepareBackup started before the repository was opened, and stops one no backup takes", async () => {
    prepareBackup();
    assert.ok(hasSpareTreePrefetch());
    const { repo, mainTreeLoads } = await openCached();
    const r = await backup(repo, { paths: [src] });
    assert.equal(mainTreeLoads(), 1, "the prepared worker read every tree but the root");
    assert.ok(!hasSpareTreePrefetch(), "taken by the backup's prefetch");
    assert.equal(await srcTree(repo, r.snapshot!.tree), firstSrcTree);
    assert.equal(r.summary.files_unmodified, 320);

    prepareBackup();
    const fresh = await backup(repo, { paths: [src], parent: false, dryRun: true });
    assert.ok(!hasSpareTreePrefetch(), "stopped by a backup without a parent");
    assert.equal(fresh.summary.files_new, 320);
    prepareBackup();
    await prepareBackup().cancel();
    assert.ok(!hasSpareTreePrefetch(), "stopped by cancel");
    await repo.close();
  });

  it("loads the trees of a damaged cached pack through the repository, and replaces the cached copy", async () => {
    const packs = cachedPacks();
    assert.ok(packs.length > 0);
    for (const p of packs) {
      const b = readFileSync(p);
      for (let i = 0; i < b.length; i += 64) b[i] = (b[i] as number) ^ 0xff; // every blob damaged
      writeFileSync(p, b);
    }
    const { repo, counted, mainTreeLoads, problems } = await openCached();
    const r = await backup(repo, { paths: [src] });
    const tree = await srcTree(repo, r.snapshot!.tree);
    await repo.close();
    assert.equal(tree, firstSrcTree);
    assert.equal(r.summary.files_unmodified, 320, "every directory of the parent is still used");
    assert.equal(r.summary.bytes_read, 0);
    // Whether the worker or the main thread (loading the root) meets the damage first, the
    // main thread reads the pack from the repository and caches a sound copy again.
    assert.ok(mainTreeLoads() >= 1);
    assert.ok(counted.loads.data > 0, "the tree packs are read from the repository");
    assert.ok(problems.some((m) => m.includes("hash check failed")), problems.join("; "));
    const again = await openCached();
    await backup(again.repo, { paths: [src] });
    await again.repo.close();
    assert.equal(again.counted.loads.data, 0, "the next backup finds sound copies in the cache");
  });

  it("loads the trees of a pack the cache lacks through the repository", async () => {
    for (const p of cachedPacks()) unlinkSync(p);
    const { repo, counted, mainTreeLoads } = await openCached();
    const r = await backup(repo, { paths: [src] });
    const tree = await srcTree(repo, r.snapshot!.tree);
    await repo.close();
    assert.equal(tree, firstSrcTree);
    assert.equal(r.summary.files_unmodified, 320);
    assert.ok(mainTreeLoads() >= 1);
    assert.ok(counted.loads.data > 0, "the tree packs are read from the repository");
    assert.ok(cachedPacks().length > 0, "and cached again");
  });

  it("hands a tree the worker cannot verify to the main thread, which loads it through the repository", async () => {
    const { repo, mainTreeLoads } = await openCached();
    await repo.loadIndex();
    const want = await repo.loadBlob("tree", Buffer.from(firstTree, "hex"));
    for (const p of cachedPacks()) {
      const b = readFileSync(p);
      for (let i = 0; i < b.length; i += 64) b[i] = (b[i] as number) ^ 0xff;
      writeFileSync(p, b);
    }
    const loadsBefore = mainTreeLoads();
    const trees = new TreePrefetch(repo, firstTree, (repo.cache as LocalCache).dir);
    const got = await trees.get(firstTree);
    await trees.close();
    await repo.close();
    assert.deepEqual(got, OldDir.decode(want));
    assert.equal(mainTreeLoads() - loadsBefore, 1, "the worker sent it as failed; the main thread loaded it");
  });
});
