import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import type { ProgressState } from "../../src/core/progress.js";
import type { Repository } from "../../src/repository/repository.js";
import { PackBuilder } from "../../src/repository/pack.js";
import { backup } from "../../src/snapshot/archiver.js";
import { RestoreFilter } from "../../src/snapshot/restore-filter.js";
import { restore, type RestoreOptions } from "../../src/snapshot/restorer.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { decodeTree, type TreeNode } from "../../src/snapshot/tree.js";
import { FaultyBackend } from "../helpers/faulty-backend.js";
import { testRepo } from "../helpers/restore-fixtures.js";

let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), "coffer-restore-"));
});
after(() => {
  rmSync(base, { recursive: true, force: true });
});

function fresh(name = "d"): string {
  const p = join(base, `${name}${n++}`);
  mkdirSync(p, { recursive: true });
  return p;
}

/** Creates files ("a/b": content) and directories ("a/d/": null). */
function build(root: string, spec: Record<string, string | Buffer | null>): void {
  for (const [rel, content] of Object.entries(spec)) {
    const p = join(root, rel);
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
  }
}

/** Every path below root, directories with a trailing "/". */
function list(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (lstatSync(join(root, r)).isDirectory()) out.push(`${r}/`, ...list(root, r));
    else out.push(r);
  }
  return out;
}

async function snap(repo: Repository, dir: string): Promise<SnapshotWithId> {
  const b = await backup(repo, { paths: [dir], parent: false });
  assert.ok(b.snapshot);
  return b.snapshot;
}

/** Restores the source directory itself (sub-path) into target. */
function restoreDir(repo: Repository, snapshot: SnapshotWithId, src: string, target: string, extra: Partial<RestoreOptions> = {}) {
  return restore(repo, { snapshot, target, subPath: src, workers: 2, ...extra });
}

describe("restore", () => {
  let repo: Repository;
  before(async () => {
    repo = await testRepo();
  });

  test("restores a whole snapshot below the target at its full paths", async () => {
    const src = fresh("src");
    const big = randomBytes(3 * 1024 * 1024);
    // "copy" and "twice" reuse blobs: one blob goes to several files and offsets.
    build(src, { "a.txt": "A", "sub/b.txt": "B", "empty/": null, "zero": "", "big": big, "sub/copy": big, "twice": Buffer.concat([big, big]) });
    const s = await snap(repo, src);
    const target = fresh("out");
    const r = await restore(repo, { snapshot: s, target });
    assert.deepEqual(r.errors, []);
    const at = join(target, src);
    assert.deepEqual(list(at), ["a.txt", "big", "empty/", "sub/", "sub/b.txt", "sub/copy", "twice", "zero"]);
    assert.equal(readFileSync(join(at, "sub/b.txt"), "utf8"), "B");
    assert.deepEqual(readFileSync(join(at, "sub/copy")), big);
    assert.deepEqual(readFileSync(join(at, "twice")), Buffer.concat([big, big]));
    assert.equal(r.filesRestored, 6);
  });

  test("a sub-path restores that directory's contents into the target", async () => {
    const src = fresh("src");
    build(src, { "a.txt": "A", "sub/b.txt": "B" });
    const s = await snap(repo, src);
    const target = fresh("out");
    await restoreDir(repo, s, join(src, "sub"), target);
    assert.deepEqual(list(target), ["b.txt"]);
    await assert.rejects(restoreDir(repo, s, join(src, "nope"), fresh("out")), /has no/);
    await assert.rejects(restoreDir(repo, s, join(src, "a.txt"), fresh("out")), /not a directory/);
  });

  test("include and exclude patterns select with restic's semantics", async () => {
    const src = fresh("src");
    build(src, { "a.txt": "1", "b.log": "2", "keep/c.txt": "3", "keep/d.log": "4", "deep/x/y.txt": "5", "deep/x/z.bin": "6" });
    const s = await snap(repo, src);
    const cases: [Partial<RestoreOptions>, string[]][] = [
      [{ exclude: ["*.log"] }, ["a.txt", "deep/", "deep/x/", "deep/x/y.txt", "deep/x/z.bin", "keep/", "keep/c.txt"]],
      [{ include: ["*.txt"] }, ["a.txt", "deep/", "deep/x/", "deep/x/y.txt", "keep/", "keep/c.txt"]],
      [{ include: ["/keep"] }, ["keep/", "keep/c.txt", "keep/d.log"]],
      [{ include: ["/deep/x/*.bin"] }, ["deep/", "deep/x/", "deep/x/z.bin"]],
      [{ include: ["/keep", "/deep"], exclude: ["x"] }, ["deep/", "keep/", "keep/c.txt", "keep/d.log"]],
    ];
    for (const [opts, want] of cases) {
      const target = fresh("out");
      const r = await restoreDir(repo, s, src, target, opts);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(list(target), want, JSON.stringify(opts));
    }
  });

  test("overwrite policies: always, never, if-changed, if-newer", async () => {
    const src = fresh("src");
    build(src, { "f": "snapshot" });
    utimesSync(join(src, "f"), 1_600_000_000, 1_600_000_000);
    const s = await snap(repo, src);
    const target = fresh("out");
    const put = (content: string, mtime: number) => {
      writeFileSync(join(target, "f"), content);
      utimesSync(join(target, "f"), mtime, mtime);
    };
    const content = () => readFileSync(join(target, "f"), "utf8");

    put("local", 1_700_000_000);
    let r = await restoreDir(repo, s, src, target, { overwrite: "never" });
    assert.equal(content(), "local");
    assert.equal(r.filesSkipped, 1);

    r = await restoreDir(repo, s, src, target, { overwrite: "if-newer" });
    assert.equal(content(), "local", "the target's copy is newer");
    put("local", 1_500_000_000);
    r = await restoreDir(repo, s, src, target, { overwrite: "if-newer" });
    assert.equal(content(), "snapshot");

    put("local!", 1_600_000_000);
    r = await restoreDir(repo, s, src, target, { overwrite: "if-changed" });
    assert.equal(content(), "snapshot", "size differs");
    r = await restoreDir(repo, s, src, target, { overwrite: "if-changed" });
    assert.equal(r.filesSkipped, 1, "same size and mtime: skipped");
    assert.equal(r.filesRestored, 0);

    put("LOCAL!!!", 1_600_000_000);
    r = await restoreDir(repo, s, src, target);
    assert.equal(content(), "snapshot");
    assert.equal(r.filesRestored, 1);
  });

  test("--delete removes what the snapshot does not hold, but never excluded paths", async () => {
    const src = fresh("src");
    build(src, { "a.txt": "A", "d/b.txt": "B", "node_modules/m.js": "m" });
    const s = await snap(repo, src);
    const target = fresh("out");
    build(target, { "extra.txt": "x", "d/extra/": null, "d/extra/f": "y", "d/b.txt": "old", "keep.log": "log", "node_modules/other.js": "o" });
    const r = await restoreDir(repo, s, src, target, { delete: true, exclude: ["*.log", "node_modules"] });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(list(target), ["a.txt", "d/", "d/b.txt", "keep.log", "node_modules/", "node_modules/other.js"]);
    assert.equal(r.deleted, 2);
  });

  test("--delete leaves alone what is beside the backed-up paths in their parents", async () => {
    const src = fresh("src");
    build(src, { "a.txt": "A" });
    const s = await snap(repo, src);
    const target = fresh("out");
    build(target, { "other/keep": "k", [`${src.slice(1)}/extra`]: "x" });
    build(join(target, dirname(src)), { "sibling-of-src": "s" });
    const r = await restore(repo, { snapshot: s, target, delete: true });
    assert.deepEqual(r.errors, []);
    assert.ok(existsSync(join(target, "other/keep")));
    assert.ok(existsSync(join(target, dirname(src), "sibling-of-src")));
    assert.equal(existsSync(join(target, src, "extra")), false);
    assert.equal(r.deleted, 1);
  });

  test("--dry-run writes nothing and lists what it would do", async () => {
    const src = fresh("src");
    build(src, { "new.txt": "N", "same.txt": "S", "d/x": "X" });
    const s = await snap(repo, src);
    const target = fresh("out");
    build(target, { "same.txt": "old", "gone.txt": "G" });
    const before = list(target);
    const r = await restoreDir(repo, s, src, target, { dryRun: true, delete: true });
    assert.deepEqual(list(target), before);
    assert.equal(readFileSync(join(target, "same.txt"), "utf8"), "old");
    const actions = Object.fromEntries((r.actions ?? []).map((a) => [a.path.slice(target.length + 1), a.action]));
    assert.deepEqual(actions, { "new.txt": "create", "same.txt": "overwrite", d: "create", "d/x": "create", "gone.txt": "delete" });
    assert.equal(r.dryRun, true);
    const missing = join(fresh("out"), "not-yet");
    await restoreDir(repo, s, src, missing, { dryRun: true });
    assert.equal(existsSync(missing), false);
  });

  test("progress reports totals from the plan", async () => {
    const src = fresh("src");
    build(src, { "a": randomBytes(100_000), "b": randomBytes(50_000), "c": "" });
    const s = await snap(repo, src);
    const states: ProgressState[] = [];
    let done = 0;
    await restoreDir(repo, s, src, fresh("out"), { progress: { update: (st) => states.push({ ...st }), done: () => done++ } });
    const last = states.filter((st) => st.phase === "restore").at(-1);
    assert.deepEqual([last?.filesDone, last?.filesTotal, last?.bytesDone, last?.bytesTotal], [3, 3, 150_000, 150_000]);
    assert.equal(done, 1);
  });

  test("--verify re-reads what was written and reports a file that differs", async () => {
    const src = fresh("src");
    build(src, { "a": randomBytes(200_000), "b": "bbb" });
    const s = await snap(repo, src);
    const target = fresh("out");
    let tampered = false;
    const r = await restoreDir(repo, s, src, target, {
      verify: true,
      progress: {
        update: (st) => {
          if (st.phase === "verify" && !tampered) {
            tampered = true;
            writeFileSync(join(target, "b"), "BBB");
          }
        },
        done: () => undefined,
      },
    });
    assert.equal(r.verified?.files, 2);
    assert.equal(r.verified?.mismatches, 1);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]?.message ?? "", /b failed verification/);
  });

  test("an abort signal stops the restore with INTERRUPTED", async () => {
    const src = fresh("src");
    build(src, { "a": "A" });
    const s = await snap(repo, src);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(restoreDir(repo, s, src, fresh("out"), { signal: ac.signal }), (err: Error & { code?: string }) => err.code === "INTERRUPTED");
  });
});

describe("restore from damaged data", () => {
  let faulty: FaultyBackend;
  let repo: Repository;
  let src: string;
  let s: SnapshotWithId;
  before(async () => {
    faulty = new FaultyBackend(new MemoryBackend());
    // Tiny packs: each file's one blob sits in a pack of its own.
    repo = await testRepo(faulty, { packSize: 1024 });
    src = fresh("src");
    build(src, { "bad": randomBytes(100_000), "good1": randomBytes(100_000), "sub/good2": randomBytes(100_000), "dup-of-bad": "" });
    writeFileSync(join(src, "dup-of-bad"), readFileSync(join(src, "bad")));
    s = await snap(repo, src);
  });
  after(() => {
    faulty.faults = {};
  });

  async function packOf(name: string): Promise<string> {
    let nodes: TreeNode[] = decodeTree(await repo.loadBlob("tree", Buffer.from(s.tree, "hex"))).nodes;
    for (const c of [...src.split("/").filter(Boolean), name]) {
      const node = nodes.find((x) => x.name === c);
      assert.ok(node, c);
      if (node.type === "file") return repo.index.lookup(Buffer.from(node.content?.[0] ?? "", "hex"))?.pack ?? "";
      nodes = decodeTree(await repo.loadBlob("tree", Buffer.from(node.subtree ?? "", "hex"))).nodes;
    }
    throw new Error("not found");
  }

  test("a blob whose pack is damaged is read from another pack that holds it", async () => {
    const target = fresh("out");
    const plain = readFileSync(join(src, "good1"));
    const id = repo.blobId(plain);
    const first = repo.index.lookup(id)?.pack ?? "";
    // A second copy of the blob in a pack of its own (as an interrupted backup can leave).
    const builder = new PackBuilder();
    const enc = repo.encodeBlob(plain);
    builder.add("data", id, enc.stored, enc.rawLength, enc.compressed);
    const p = builder.finish(repo.crypter, repo.packHash);
    await repo.savePack(p.id, p.bytes);
    repo.index.addPack(p.id, p.entries);
    faulty.faults = { corruptLoad: (h) => h.type === "data" && h.name === first };
    const r = await restoreDir(repo, s, src, target, { include: ["/good1"] });
    faulty.faults = {};
    assert.deepEqual(r.errors, []);
    assert.deepEqual(readFileSync(join(target, "good1")), plain);
    assert.equal(lstatSync(join(target, "good1")).mtimeMs, lstatSync(join(src, "good1")).mtimeMs, "metadata set after the retry");
  });

  for (const fault of ["corrupt", "missing"] as const) {
    test(`a ${fault} pack fails the files that need it, naming them and the pack; the others restore`, async () => {
      const pack = await packOf("bad");
      assert.notEqual(pack, await packOf("good1"));
      faulty.faults = fault === "corrupt" ? { corruptLoad: (h) => h.type === "data" && h.name === pack } : { failLoad: (h) => h.type === "data" && h.name === pack };
      const target = fresh("out");
      const r = await restoreDir(repo, s, src, target);
      faulty.faults = {};
      assert.deepEqual(r.errors.map((e) => e.path).sort(), [join(target, "bad"), join(target, "dup-of-bad")]);
      for (const e of r.errors) {
        assert.equal(e.pack, pack);
        assert.match(e.message, new RegExp(pack.slice(0, 8)));
        assert.equal(e.code, "CORRUPT");
      }
      assert.deepEqual(readFileSync(join(target, "good1")), readFileSync(join(src, "good1")));
      assert.deepEqual(readFileSync(join(target, "sub/good2")), readFileSync(join(src, "sub/good2")));
      assert.equal(r.filesRestored, 2);
    });
  }
});

describe("RestoreFilter", () => {
  const pick = (f: RestoreFilter, path: string, isDir = false) => {
    // Decide along the path, as the walk does.
    let d = f.root();
    const parts = path.split("/").filter(Boolean);
    parts.forEach((_, i) => {
      d = f.decide(`/${parts.slice(0, i + 1).join("/")}`, i < parts.length - 1 || isDir, d);
    });
    return d;
  };

  test("excludes match the path or a parent, anchored or at any depth", () => {
    const f = RestoreFilter.create([], ["*.log", "/srv/cache", "a/b"]);
    assert.equal(pick(f, "/x/y.log").selected, false);
    assert.equal(pick(f, "/srv/cache/z").selected, false);
    assert.equal(pick(f, "/other/srv/cache").selected, true, "an anchored pattern matches from the root only");
    assert.equal(pick(f, "/q/a/b/c").selected, false);
    assert.equal(pick(f, "/q/a/bc").selected, true);
    assert.equal(pick(f, "/.hidden.log").selected, false, "dotfiles match");
  });

  test("includes select matches, everything below them, and walk only into directories that may match", () => {
    const f = RestoreFilter.create(["/srv/app/config", "*.md"]);
    assert.equal(pick(f, "/srv/app/config/a.yml").selected, true);
    assert.deepEqual(pick(f, "/srv/app", true), { selected: false, descend: true, included: false });
    assert.deepEqual(pick(f, "/srv/other", true), { selected: false, descend: true, included: false }, '"*.md" may match anywhere');
    assert.equal(pick(f, "/srv/other/x.txt").selected, false);
    assert.equal(pick(f, "/deep/down/README.md").selected, true);
    const g = RestoreFilter.create(["/srv/app/config"]);
    assert.equal(pick(g, "/var", true).descend, false);
    assert.equal(pick(g, "/srv/app/conf", true).descend, false);
  });
});
