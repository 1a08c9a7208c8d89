import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../../src/backend/local.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backupSource } from "../../src/sources/backup-source.js";
import type { SqliteSource } from "../../src/sources/source.js";
import { backup } from "../../src/snapshot/archiver.js";
import { dump } from "../../src/snapshot/dump.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { decodeTree } from "../../src/snapshot/tree.js";

const require = createRequire(import.meta.url);
const DRIVER = require.resolve("better-sqlite3");

interface Db {
  prepare(sql: string): { get(): unknown; run(...a: unknown[]): unknown };
  pragma(sql: string, o?: { simple?: boolean }): unknown;
  exec(sql: string): void;
  close(): void;
}
const Database = require(DRIVER) as new (path: string, opts?: { readonly?: boolean }) => Db;

/**
 * A writer that commits continuously: each transaction adds a row to `items` and one to the
 * counter, so a consistent copy has count(items) = counter.n. Checkpoints are off: every commit
 * stays in the -wal file, so a copy of the main file alone would hold none of them.
 */
const WRITER = `
const Database = require(process.argv[2]);
const db = new Database(process.argv[3]);
db.pragma("journal_mode = WAL");
db.pragma("wal_autocheckpoint = 0");
const ins = db.prepare("INSERT INTO items(v, pad) VALUES (?, ?)");
const upd = db.prepare("UPDATE counter SET n = n + 1");
const tx = db.transaction((i) => { ins.run(i, "x".repeat(300) + i); upd.run(); });
const sleep = new Int32Array(new SharedArrayBuffer(4));
const until = Date.now() + 120000;
for (let i = 0; Date.now() < until; i++) {
  tx(i);
  if (i === 3000) require("fs").writeSync(1, "ready\\n");
  if (i > 3000) Atomics.wait(sleep, 0, 0, 1);
}
`;

async function startWriter(dir: string, db: string): Promise<ChildProcess> {
  const script = join(dir, "writer.cjs");
  await writeFile(script, WRITER);
  const child = spawn(process.execPath, [script, DRIVER, db], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
  });
  return child;
}

function counter(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare("SELECT n FROM counter").get() as { n: number }).n;
  } finally {
    d.close();
  }
}

async function fileIn(repo: Repository, snap: SnapshotWithId, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await dump(repo, snap.tree, path, { write: (c) => void chunks.push(Buffer.from(c)) });
  return Buffer.concat(chunks);
}

async function namesIn(repo: Repository, snap: SnapshotWithId, dirPath: string): Promise<string[]> {
  let tree = decodeTree(await repo.loadBlob("tree", Buffer.from(snap.tree, "hex")));
  for (const part of dirPath.split("/").filter(Boolean)) {
    const node = tree.nodes.find((n) => n.name === part);
    assert.ok(node?.subtree, `${part} in the snapshot`);
    tree = decodeTree(await repo.loadBlob("tree", Buffer.from(node.subtree, "hex")));
  }
  return tree.nodes.map((n) => n.name);
}

test("sqlite source: a database written continuously during the backup is stored whole (WAL included) at its own path, and passes integrity_check", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-sqlite-"));
  let writer: ChildProcess | undefined;
  try {
    const data = join(dir, "app");
    const db = join(data, "app.db");
    await mkdir(data);
    await writeFile(join(data, "notes.txt"), "notes\n");
    const setup = new Database(db);
    setup.pragma("journal_mode = WAL");
    setup.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT); CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);");
    setup.close();

    const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
    writer = await startWriter(dir, db);

    // A plain files backup meets the live database and says how to back it up safely.
    const plain = await backup(repo, { paths: [data] });
    const walWarnings = plain.warnings.filter((w) => w.code === "SQLITE_WAL");
    assert.equal(walWarnings.length, 1);
    assert.equal(walWarnings[0]?.path, db);
    assert.match(walWarnings[0]?.message ?? "", /live SQLite database.*may miss recent commits.*kind: sqlite, databases: \[.*app\.db\].*coffer backup --source/);

    const source: SqliteSource = { name: "app", kind: "sqlite", tags: ["db"], databases: [db], paths: [data], filters: {}, integrityCheck: "full", tmpDir: dir };
    const before = counter(db);
    // What a plain copy of the main file alone holds: none of the commits, which are all in the -wal file.
    await copyFile(db, join(dir, "naive.db"));
    assert.equal(counter(join(dir, "naive.db")), 0);
    const staged: string[] = [];
    const r = await backupSource(repo, source, { onStage: (e) => staged.push(`${e.kind} ${e.path}`) });
    const after = counter(db);
    assert.ok(after > before, `the writer committed during the backup (${before} → ${after})`);
    assert.deepEqual(staged, [`sqlite ${db}`]);
    assert.ok(r.snapshot);
    assert.deepEqual([r.snapshot.source, r.snapshot.paths, r.snapshot.tags], ["app", [data], ["db"]]);
    assert.equal(r.warnings.filter((w) => w.code === "SQLITE_WAL").length, 0, "the copy is not warned about");
    // The copy stands in for the database and its companions; the other files are read in place.
    assert.deepEqual(await namesIn(repo, r.snapshot, data), ["app.db", "notes.txt"]);

    writer.kill("SIGKILL");
    writer = undefined;
    const restored = join(dir, "restored.db");
    await writeFile(restored, await fileIn(repo, r.snapshot, db));
    const copy = new Database(restored);
    try {
      assert.equal(copy.pragma("integrity_check", { simple: true }), "ok");
      const n = (copy.prepare("SELECT n FROM counter").get() as { n: number }).n;
      const rows = (copy.prepare("SELECT count(*) AS c FROM items").get() as { c: number }).c;
      assert.ok(n >= before && n <= after, `the copy is a state the database was in during the backup (${before} ≤ ${n} ≤ ${after})`);
      assert.equal(rows, n, "every transaction is whole: one row per count");
    } finally {
      copy.close();
    }
    // Nothing staged is left behind.
    const left = (await readdir(dir)).filter((n) => n.startsWith("coffer-"));
    assert.deepEqual(left, []);
    await repo.close();
  } finally {
    writer?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});

test("sqlite source: a database outside the paths is a path of its own; a file that is not a database is refused; a missing one creates nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-sqlite-"));
  try {
    const db = join(dir, "solo.db");
    const d = new Database(db);
    d.exec("CREATE TABLE t(x); INSERT INTO t VALUES (42);");
    d.close();
    const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
    const source: SqliteSource = { name: "solo", kind: "sqlite", tags: [], databases: [db], paths: [], filters: {}, integrityCheck: "quick", tmpDir: dir };
    const r = await backupSource(repo, source);
    assert.deepEqual(r.snapshot?.paths, [db]);
    assert.equal(r.staged.length, 1);
    const restored = join(dir, "back.db");
    await writeFile(restored, await fileIn(repo, r.snapshot as SnapshotWithId, db));
    const back = new Database(restored, { readonly: true });
    assert.deepEqual(back.prepare("SELECT x FROM t").get(), { x: 42 });
    back.close();

    await writeFile(join(dir, "fake.db"), "not a database at all, just text that is long enough to have a header");
    await assert.rejects(backupSource(repo, { ...source, databases: [join(dir, "fake.db")] }), /fake\.db is not a SQLite database .*list it under paths/);
    await assert.rejects(backupSource(repo, { ...source, databases: [join(dir, "gone.db")] }), /gone\.db of source solo does not exist; nothing was backed up/);
    await repo.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
