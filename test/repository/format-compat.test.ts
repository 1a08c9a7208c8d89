import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { FileType } from "../../src/backend/backend.js";
import { LocalBackend } from "../../src/backend/local.js";
import { isCofferError } from "../../src/core/errors.js";
import { parseKeyFile } from "../../src/crypto/keyfile.js";
import { readIndexFile } from "../../src/repository/index-file.js";
import { parsePackTail } from "../../src/repository/pack.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { decodeTree, nameBytes, type TreeNode } from "../../src/snapshot/tree.js";

/**
 * Guards that this build still reads a repository an older build wrote: the committed fixture
 * test/fixtures/repo-v1 (see its README.md), copied to a temp dir, read with the current code
 * and compared with what the fixture script put into it. If this fails, either a reader
 * regressed or the format changed: a format change needs a new config version and a new
 * fixture, never an edit of this one.
 */

const PASSWORD = "coffer-fixture-v1";
const SRC = "/tmp/coffer-fixture-v1/data";
const CONFIG_ID = "79fe54cd201103f5e2e4612e41e6049acf91aba937946db553ed8a1e5bb78f07";
const SEED = "4e9bacc17bc3ff88";
const ID_KEY = "J+dUA05PcK91U+soOxLYiTeLlTpPQqWsecNn7gAkvcE=";
const KEY_ID = "b5e837968b407ef379a639777f084214178622c81299a5a9afd775a067ce7b86";
const FIRST = "84c4799bd0b41dafbe80d85021865ce447387911ed34e52e1ddeb6570c6ad650";
const SECOND = "b594875e0ea71c098c60f3fc4a9b7dd88f97ce3ad8c53e2dd0619f0bf99b0f9f";
const FIRST_TREE = "5d4c707e1d3a26faa6d6a99cba4f35bf0ced9489281083b1f08dffe443253a47";
const SECOND_TREE = "d1b5d6bc02e3a49189c52918e6ba9b1ddc604d49e66379422b4a8ab8b243a0e3";

/** "café.txt" in ISO-8859-1: a name that is not valid UTF-8. Paths below are latin1 strings of raw bytes. */
const LATIN1_NAME = Buffer.from("caf\xe9.txt", "latin1").toString("latin1");

function randomBin(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 128; i++) parts.push(createHash("sha256").update(`coffer-fixture-random-${i}`).digest());
  return Buffer.concat(parts);
}

function readme(): string {
  let s = "";
  for (let i = 0; i < 40; i++) s += `line ${i}: the quick brown fox jumps over the lazy dog\n`;
  return s;
}

const FIRST_FILES: Record<string, Buffer> = {
  [LATIN1_NAME]: Buffer.from("latin-1 name\n"),
  "empty.txt": Buffer.alloc(0),
  "exec.sh": Buffer.from("#!/bin/sh\necho hi\n"),
  "hello.txt": Buffer.from("hello, coffer\n"),
  "notes/readme.md": Buffer.from(readme()),
  "random.bin": randomBin(),
};
const SECOND_FILES: Record<string, Buffer> = {
  ...FIRST_FILES,
  "hello.txt": Buffer.from("hello again, coffer\n"),
  "new.txt": Buffer.from("added in the second snapshot\n"),
};

function fixtureDir(): string {
  // Tests run from a build directory (dist/test/..., .build/x/test/...); the fixture is in the source tree.
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    const f = join(d, "test", "fixtures", "repo-v1");
    if (existsSync(join(f, "config"))) return f;
  }
  throw new Error("test/fixtures/repo-v1 not found above the test file");
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

interface Walked {
  /** Path (relative to the backed-up directory, raw bytes as latin1) → node. */
  nodes: Map<string, TreeNode>;
  /** Path → file content joined from its data blobs. */
  files: Map<string, Buffer>;
}

/** Follows the snapshot's absolute path down from the root tree, then walks everything below it. */
async function walkSnapshot(repo: Repository, snap: SnapshotWithId): Promise<Walked> {
  assert.equal(snap.paths.length, 1);
  let tree = decodeTree(await repo.loadBlob("tree", Buffer.from(snap.tree, "hex")));
  const parts = (snap.paths[0] ?? "").split("/").filter(Boolean);
  for (const part of parts) {
    assert.equal(tree.nodes.length, 1, `an intermediate tree holds only the way to the backed-up path (${part})`);
    const n = tree.nodes[0] as TreeNode;
    assert.equal(n.name, part);
    assert.equal(n.type, "dir");
    assert.ok(n.subtree, `${part} has a subtree`);
    tree = decodeTree(await repo.loadBlob("tree", Buffer.from(n.subtree, "hex")));
  }
  const out: Walked = { nodes: new Map(), files: new Map() };
  const walk = async (t: ReturnType<typeof decodeTree>, prefix: string): Promise<void> => {
    const names = t.nodes.map((n) => nameBytes(n));
    for (let i = 1; i < names.length; i++) assert.ok(Buffer.compare(names[i - 1] as Buffer, names[i] as Buffer) < 0, "nodes are sorted by raw name bytes");
    for (const n of t.nodes) {
      const p = prefix + nameBytes(n).toString("latin1");
      out.nodes.set(p, n);
      if (n.type === "dir") {
        assert.ok(n.subtree);
        await walk(decodeTree(await repo.loadBlob("tree", Buffer.from(n.subtree, "hex"))), `${p}/`);
      } else if (n.type === "file") {
        assert.ok(Array.isArray(n.content));
        const parts = await Promise.all(n.content.map((id) => repo.loadBlob("data", Buffer.from(id, "hex"))));
        out.files.set(p, Buffer.concat(parts));
      }
    }
  };
  await walk(tree, "");
  return out;
}

describe("format compatibility: the version-1 fixture repository", () => {
  let dir: string;
  let repoDir: string;
  let repo: Repository;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "coffer-compat-"));
    repoDir = join(dir, "repo");
    await cp(fixtureDir(), repoDir, { recursive: true });
    repo = await Repository.open(new LocalBackend(repoDir), { password: PASSWORD });
    await repo.loadIndex();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens with its password and has the version-1 config it was written with", () => {
    const c = repo.config;
    assert.equal(c.version, 1);
    assert.equal(c.id, CONFIG_ID);
    assert.equal(c.encryption, "aes-256-gcm");
    assert.deepEqual(c.compression, { algorithm: "zstd", level: 3 });
    assert.deepEqual(c.chunker, { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024, seed: SEED });
    assert.equal(c.id_key, ID_KEY);
    assert.equal(Buffer.from(c.id_key, "base64").length, 32);
    assert.equal(c.pack_size, 16 * 1024 * 1024);
    assert.equal(repo.keyId, KEY_ID);
  });

  it("refuses a wrong password", async () => {
    await assert.rejects(Repository.open(new LocalBackend(repoDir), { password: "not the password" }), (e: unknown) => isCofferError(e, "WRONG_PASSWORD"));
  });

  it("names every stored file (keys, index, snapshots, packs) by the SHA-256 of its bytes", async () => {
    const names: [FileType, string][] = [];
    for (const type of ["key", "index", "snapshot", "data"] as const) {
      for await (const f of repo.backend.list(type)) names.push([type, f.name]);
    }
    assert.equal(names.length, 1 + 2 + 2 + 4);
    for (const [type, name] of names) assert.equal(sha256(await repo.backend.load({ type, name })), name, `${type} ${name}`);
    const key = parseKeyFile(await repo.backend.load({ type: "key", name: KEY_ID }), KEY_ID);
    assert.deepEqual([key.kdf, key.N, key.r, key.p], ["scrypt", 1024, 8, 1]);
  });

  it("lists its two snapshots with their metadata", async () => {
    const snaps = await listSnapshots(repo);
    assert.deepEqual(
      snaps.map((s) => s.id),
      [FIRST, SECOND],
    );
    const [a, b] = snaps as [SnapshotWithId, SnapshotWithId];
    assert.equal(a.time, "2026-01-01T10:00:00.000Z");
    assert.equal(a.hostname, "fixture-host");
    assert.deepEqual(a.paths, [SRC]);
    assert.equal(a.tree, FIRST_TREE);
    assert.deepEqual(a.tags, ["fixture", "first"]);
    assert.equal(a.kind, "manual");
    assert.equal(a.parent, undefined);
    assert.equal(a.program, "coffer 0.1.0");
    assert.equal(a.summary?.files_new, 6);
    assert.equal(b.time, "2026-01-02T10:00:00.000Z");
    assert.equal(b.tree, SECOND_TREE);
    assert.equal(b.parent, FIRST);
    assert.deepEqual(b.tags, ["fixture", "second"]);
    assert.equal(b.kind, "revision");
    assert.equal(b.label, "r1");
    assert.equal(b.description, "after an edit");
    assert.equal(b.retention, "permanent");
    assert.deepEqual([b.summary?.files_new, b.summary?.files_changed, b.summary?.files_unmodified], [1, 1, 5]);
  });

  it("has index entries that agree with every pack header, and packs of one blob type", async () => {
    const indexIds = await repo.listIds("index");
    assert.equal(indexIds.length, 2);
    let blobs = 0;
    for (const id of indexIds) {
      const f = readIndexFile(await repo.loadJson("index", id), id);
      assert.deepEqual(f.supersedes, []);
      for (const [pack, entries] of f.packs) {
        const bytes = await repo.backend.load({ type: "data", name: pack });
        const { entries: header } = parsePackTail(bytes, bytes.length, repo.crypter, pack);
        assert.deepEqual(header, entries, `pack ${pack.slice(0, 8)}: header and index agree`);
        assert.equal(new Set(header.map((e) => e.type)).size, 1, "a pack holds one blob type");
        blobs += entries.length;
      }
    }
    assert.equal(blobs, repo.index.size);
    assert.equal(repo.index.size, 17);
  });

  it("loads every blob of the index, verified against its id", async () => {
    const idKey = Buffer.from(ID_KEY, "base64");
    let n = 0;
    for (const e of [...repo.index.entries()]) {
      const plain = await repo.loadBlob(e.type, e.id);
      assert.equal(plain.length, e.rawLength);
      assert.equal(createHmac("sha256", idKey).update(plain).digest("hex"), e.id.toString("hex"));
      if (e.type === "tree") assert.ok(Array.isArray(decodeTree(plain).nodes));
      n++;
    }
    assert.equal(n, 17);
    const kinds = [...repo.index.entries()].map((e) => `${e.type}:${e.compressed}`);
    for (const k of ["data:true", "data:false", "tree:true", "tree:false"]) assert.ok(kinds.includes(k), `the fixture has a ${k} blob`);
  });

  for (const [name, id, expected] of [
    ["first", FIRST, FIRST_FILES],
    ["second", SECOND, SECOND_FILES],
  ] as const) {
    it(`restores the files of the ${name} snapshot to their known content`, async () => {
      const snap = (await listSnapshots(repo)).find((s) => s.id === id) as SnapshotWithId;
      const w = await walkSnapshot(repo, snap);
      assert.deepEqual([...w.files.keys()].sort(), Object.keys(expected).sort());
      for (const [p, content] of Object.entries(expected)) {
        assert.ok(w.files.get(p)?.equals(content), `content of ${p}`);
        assert.equal(w.nodes.get(p)?.size, content.length, `size of ${p}`);
      }
    });
  }

  it("keeps special nodes: empty dir, empty file, symlinks, a non-UTF-8 name, modes, ns times", async () => {
    const snap = (await listSnapshots(repo)).find((s) => s.id === FIRST) as SnapshotWithId;
    const { nodes } = await walkSnapshot(repo, snap);
    const get = (p: string): TreeNode => {
      const n = nodes.get(p);
      assert.ok(n, `${p} is in the snapshot`);
      return n;
    };
    const emptyDir = get("empty-dir");
    assert.equal(emptyDir.type, "dir");
    assert.deepEqual(decodeTree(await repo.loadBlob("tree", Buffer.from(emptyDir.subtree ?? "", "hex"))), { nodes: [] });
    assert.deepEqual(get("empty.txt").content, []);
    const link = get("link");
    assert.deepEqual([link.type, link.linktarget, link.linktarget_raw], ["symlink", "hello.txt", undefined]);
    const raw = get("link-raw");
    assert.equal(raw.type, "symlink");
    assert.equal(raw.linktarget_raw, Buffer.from(LATIN1_NAME, "latin1").toString("base64"));
    const cafe = get(LATIN1_NAME);
    assert.equal(cafe.name_raw, "Y2Fm6S50eHQ=");
    assert.equal(cafe.name, "caf\u00e9.txt", "name holds a readable (latin1) replacement");
    assert.equal(get("exec.sh").mode, 0o755);
    assert.equal(get("hello.txt").mode, 0o644);
    assert.equal(get("hello.txt").mtime, "2025-12-31T12:00:00.000000000Z");
    for (const n of nodes.values()) {
      assert.match(n.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.match(n.ctime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      assert.match(n.inode, /^\d+$/);
      assert.match(n.device, /^\d+$/);
      assert.equal(n.atime, undefined, "atime is not stored");
    }
  });

  it("takes a new snapshot with the current build and still reads the old ones", async () => {
    // Git keeps no empty directories: the copy lacks locks/ and most of data/xx; writers recreate them.
    const src = join(dir, "new-src");
    await mkdir(src);
    await writeFile(join(src, "hello.txt"), "hello, coffer\n"); // same content as the first snapshot's
    await writeFile(join(src, "fresh.txt"), "written by the current build\n");
    const r = await backup(repo, { paths: [src], host: "compat-test", workers: 1 });
    assert.ok(r.snapshot);
    const trees = src.split("/").filter(Boolean).length + 1;
    assert.equal(r.summary.blobs_added, 1 + trees, "hello.txt deduplicates against the fixture; fresh.txt and the trees are new");
    const again = await Repository.open(new LocalBackend(repoDir), { password: PASSWORD });
    await again.loadIndex();
    const snaps = await listSnapshots(again);
    assert.equal(snaps.length, 3);
    for (const [id, expected] of [
      [FIRST, FIRST_FILES],
      [SECOND, SECOND_FILES],
    ] as const) {
      const w = await walkSnapshot(again, snaps.find((s) => s.id === id) as SnapshotWithId);
      for (const [p, content] of Object.entries(expected)) assert.ok(w.files.get(p)?.equals(content), `content of ${p}`);
    }
    const fresh = await walkSnapshot(again, snaps.find((s) => s.id === r.snapshot?.id) as SnapshotWithId);
    assert.equal(fresh.files.get("fresh.txt")?.toString(), "written by the current build\n");
    assert.deepEqual(await readFile(join(fixtureDir(), "config")), await readFile(join(repoDir, "config")), "the config is never rewritten");
  });
});
