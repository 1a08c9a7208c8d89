// What the local cache saves against S3: requests and bytes of an unchanged backup, and of
// `snapshots` + `ls` of every snapshot, without the cache, with a cold one and with a warm one.
// Usage: node bench/cache.mjs [build dir=.build/cache] [dirs=500] [files per dir=10] [snapshots=3]
// Starts Ceph RGW (or s3rver off CI) through the test helper, or uses COFFER_TEST_S3_ENDPOINT,
// _ACCESS_KEY, _SECRET_KEY. Prints one row per run: requests by kind, bytes read, wall time.
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const build = resolve(process.argv[2] ?? ".build/cache");
const dirs = Number(process.argv[3] ?? 500);
const perDir = Number(process.argv[4] ?? 10);
const snapshots = Number(process.argv[5] ?? 3);
const mod = (p) => import(pathToFileURL(join(build, p)).href);
const { openBackend, wrapBackend } = await mod("src/backend/open.js");
const { Repository } = await mod("src/repository/repository.js");
const { backup } = await mod("src/snapshot/archiver.js");
const { listSnapshots } = await mod("src/snapshot/snapshot-store.js");
const { walkTree } = await mod("src/snapshot/walker.js");
const { TEST_KDF } = await mod("src/crypto/kdf.js");
const { startS3Server, bucketName, removeBucket } = await mod("test/helpers/s3-server.js");

/** Counts the requests that reach the driver, as S3 would bill them. */
class Counting {
  constructor(inner) {
    this.inner = inner;
    this.n = {};
    this.bytes = 0;
  }
  get location() {
    return this.inner.location;
  }
  get properties() {
    return this.inner.properties;
  }
  count(k) {
    this.n[k] = (this.n[k] ?? 0) + 1;
  }
  create() {
    return this.inner.create();
  }
  save(h, d) {
    this.count(`save ${h.type}`);
    return this.inner.save(h, d);
  }
  async load(h, o) {
    this.count(`get ${h.type}`);
    const b = await this.inner.load(h, o);
    this.bytes += b.length;
    return b;
  }
  stat(h) {
    this.count("stat");
    return this.inner.stat(h);
  }
  list(t) {
    this.count("list");
    return this.inner.list(t);
  }
  remove(h) {
    this.count("remove");
    return this.inner.remove(h);
  }
  close() {
    return this.inner.close();
  }
  isNotFound(e) {
    return this.inner.isNotFound(e);
  }
  isPermanent(e) {
    return this.inner.isPermanent(e);
  }
}

const server = await startS3Server();
Object.assign(process.env, server.env);
console.error(server.note);
const work = await mkdtemp(join(tmpdir(), "coffer-bench-cache-"));
const bucket = bucketName("bench-cache");
const url = `s3:${server.endpoint}/${bucket}/repo`;
const src = join(work, "src");
for (let d = 0; d < dirs; d++) {
  mkdirSync(join(src, `d${d}`), { recursive: true });
  for (let f = 0; f < perDir; f++) writeFileSync(join(src, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(64));
}
const password = "bench";
const cacheDir = join(work, "cache");

async function run(label, cache, fn) {
  const counted = new Counting(openBackend(url));
  const t0 = performance.now();
  const repo = await Repository.open(wrapBackend(counted), { password, ...(cache ? { cache: { dir: cacheDir } } : {}) });
  const r = await fn(repo);
  await repo.close();
  const ms = performance.now() - t0;
  const total = Object.values(counted.n).reduce((a, b) => a + b, 0);
  const kinds = Object.entries(counted.n)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  // An "unchanged" backup may add a tree or two: the directories above the source (/tmp) change.
  const added = r?.summary ? `, ${r.summary.blobs_added} blobs added` : "";
  console.log(`${label.padEnd(36)} ${String(total).padStart(5)} requests  ${(counted.bytes / 1024).toFixed(0).padStart(7)} KiB read  ${(ms / 1000).toFixed(2).padStart(6)} s   (${kinds}${added})`);
}

const readAll = async (repo) => {
  await repo.loadIndex();
  for (const s of await listSnapshots(repo)) await walkTree(repo, s.tree, () => undefined);
};

try {
  await (await Repository.init(wrapBackend(openBackend(url)), { password, kdf: TEST_KDF })).close();
  for (let i = 0; i < snapshots; i++) {
    writeFileSync(join(src, "d0", "f0.txt"), `changed ${i}\n`);
    await run(`backup ${i + 1} (no cache)`, false, (repo) => backup(repo, { paths: [src] }));
  }
  console.log(`${dirs * perDir} files in ${dirs} directories, ${snapshots} snapshots`);
  await run("unchanged backup, no cache", false, (repo) => backup(repo, { paths: [src] }));
  await run("unchanged backup, cold cache", true, (repo) => backup(repo, { paths: [src] }));
  await run("unchanged backup, warm cache", true, (repo) => backup(repo, { paths: [src] }));
  await run("read all snapshots+trees, no cache", false, readAll);
  await run("read all snapshots+trees, warm cache", true, readAll);
} finally {
  await rm(work, { recursive: true, force: true });
  await removeBucket(server, bucket);
  await server.stop();
}
