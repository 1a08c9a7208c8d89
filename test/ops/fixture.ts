import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Backend } from "../../src/backend/backend.js";
import { LocalBackend } from "../../src/backend/local.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { readIndexFile } from "../../src/repository/index-file.js";
import { MasterIndex } from "../../src/repository/master-index.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import type { Snapshot } from "../../src/snapshot/snapshot.js";
import { decodeTree } from "../../src/snapshot/tree.js";

/**
 * A small repository with two snapshots of one directory: the second adds `extra.bin`, so a
 * blob only the second snapshot reaches exists. Packs are as small as a config allows (1 MiB),
 * so there are several.
 */
export interface Fixture {
  dir: string;
  src: string;
  backend: Backend;
  /** Ids of the first and the second snapshot. */
  first: string;
  second: string;
  open(): Promise<Repository>;
  cleanup(): Promise<void>;
}

function text(n: number, seed: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    const l = `line ${seed}-${i}: the quick brown fox jumps over the lazy dog ${(i * 7919 + seed) % 1000}\n`;
    lines.push(l);
    size += l.length;
  }
  return Buffer.from(lines.join("")).subarray(0, n);
}

export async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-ops-"));
  const src = join(dir, "src");
  await mkdir(join(src, "sub", "deeper"), { recursive: true });
  for (let i = 0; i < 10; i++) await writeFile(join(src, `random-${i}.bin`), randomBytes(150_000 + i * 40_000));
  for (let i = 0; i < 4; i++) await writeFile(join(src, "sub", `text-${i}.txt`), text(60_000 + i * 20_000, i));
  await writeFile(join(src, "sub", "deeper", "small.txt"), "small\n");
  const backend = new LocalBackend(join(dir, "repo"));
  const repo = await Repository.init(backend, { password: "pw", kdf: TEST_KDF, packSize: 1024 * 1024 });
  const first = (await backup(repo, { paths: [src], workers: 2, time: new Date("2026-01-01T00:00:00Z") })).snapshot!.id;
  await writeFile(join(src, "extra.bin"), randomBytes(120_000));
  const second = (await backup(repo, { paths: [src], workers: 2, time: new Date("2026-01-02T00:00:00Z") })).snapshot!.id;
  return {
    dir,
    src,
    backend,
    first,
    second,
    open: () => Repository.open(backend, { password: "pw" }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Inverts one byte of a stored file. */
export async function flipByte(backend: Backend, h: Parameters<Backend["load"]>[0], at: number): Promise<void> {
  const b = await backend.load(h);
  const i = at < 0 ? b.length + at : at;
  b[i] = (b[i] ?? 0) ^ 0xff;
  await backend.save(h, b);
}

/** The index as the current index files describe it (what `loadIndex` builds). */
export async function loadIndex(repo: Repository): Promise<MasterIndex> {
  const idx = new MasterIndex();
  const files = await Promise.all((await repo.listIds("index")).map(async (id) => ({ id, f: readIndexFile(await repo.loadJson("index", id), id) })));
  const superseded = new Set(files.flatMap((x) => x.f.supersedes));
  for (const { id, f } of files) if (!superseded.has(id)) for (const [p, blobs] of f.packs) idx.addPack(p, blobs);
  return idx;
}

/** Every file of a snapshot as path → the concatenation of its blobs, read through the index. */
export async function snapshotFiles(repo: Repository, snapshotId: string): Promise<Map<string, Buffer>> {
  if (repo.index.files.size === 0) await repo.loadIndex();
  const snap = (await repo.loadJson("snapshot", snapshotId)) as Snapshot;
  const out = new Map<string, Buffer>();
  const walk = async (treeId: string, prefix: string): Promise<void> => {
    const tree = decodeTree(await repo.loadBlob("tree", Buffer.from(treeId, "hex")));
    for (const n of tree.nodes) {
      const p = `${prefix}/${n.name}`;
      if (n.type === "dir" && n.subtree) await walk(n.subtree, p);
      if (n.type === "file") {
        const parts = await Promise.all((n.content ?? []).map((id) => repo.loadBlob("data", Buffer.from(id, "hex"))));
        out.set(p, Buffer.concat(parts));
      }
    }
  };
  await walk(snap.tree, "");
  return out;
}

/** The content blob ids of the file at `path` (relative to the backed-up root's name) in a snapshot. */
export async function fileBlobs(repo: Repository, snapshotId: string, name: string): Promise<string[]> {
  if (repo.index.files.size === 0) await repo.loadIndex();
  const snap = (await repo.loadJson("snapshot", snapshotId)) as Snapshot;
  const found: string[] = [];
  const walk = async (treeId: string): Promise<void> => {
    const tree = decodeTree(await repo.loadBlob("tree", Buffer.from(treeId, "hex")));
    for (const n of tree.nodes) {
      if (n.type === "dir" && n.subtree) await walk(n.subtree);
      if (n.type === "file" && n.name === name) found.push(...(n.content ?? []));
    }
  };
  await walk(snap.tree);
  return found;
}
