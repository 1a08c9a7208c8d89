import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import { findRollbackTarget, saveRevision } from "../../src/ops/revision.js";
import { rollback } from "../../src/ops/rollback.js";
import { restore } from "../../src/snapshot/restorer.js";
import { findSnapshot, listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { digest, makeProject, type Project } from "./lifecycle-fixture.js";

const FILTERS = { ignoreFiles: [".gitignore"], excludes: ["*.tmp"] };

describe("rollback", () => {
  let p: Project;
  beforeEach(async () => {
    p = await makeProject();
  });
  afterEach(() => p.cleanup());

  async function revision(name = "v1") {
    return (await saveRevision(p.repo, { name, paths: [p.root], filters: FILTERS, workers: 1 })).snapshot;
  }

  /** The user's changes after the revision: one edited, one deleted, one new file, a new directory holding ignored files, a mode change. */
  function change(): void {
    p.write("src/a.ts", "export const a = 100; // edited\n");
    unlinkSync(join(p.root, "src/b.ts"));
    p.write("src/c.ts", "export const c = 3;\n");
    p.write("lib/x.ts", "x\n");
    p.write("lib/node_modules/dep/i.js", "ignored below a new directory\n");
    p.write("scratch.tmp", "excluded by pattern\n");
    p.write("more.log", "ignored by .gitignore\n");
    chmodSync(join(p.root, "README.md"), 0o600);
  }

  const ignored = ["node_modules", "debug.log", "more.log", "scratch.tmp"];

  it("records the backup's filters in the snapshot", async () => {
    const rev = await revision();
    assert.deepEqual(rev.filters, { excludes: ["*.tmp"], ignore_files: [".gitignore"] });
    assert.equal(rev.kind, "revision");
    assert.equal(rev.retention, "permanent");
  });

  it("--dry-run lists added, removed and modified paths and writes nothing", async () => {
    const rev = await revision();
    change();
    const before = digest(p.root);
    const count = (await listSnapshots(p.repo)).length;
    const r = await rollback(p.repo, { snapshot: rev, dryRun: true });
    const got = r.changes.map((c) => `${c.change} ${c.path.slice(p.root.length)}`);
    assert.deepEqual(got.sort(), ["added /src/b.ts", "metadata /README.md", "modified /src/a.ts", "removed /lib", "removed /lib/x.ts", "removed /src/c.ts"].sort());
    assert.equal(r.safety, undefined);
    assert.deepEqual(digest(p.root), before);
    assert.equal((await listSnapshots(p.repo)).length, count);
  });

  it("restores the revision byte-exact, keeps ignored and excluded files, and the safety snapshot brings the changes back", async () => {
    const rev = await revision();
    const atRevision = digest(p.root, ignored);
    change();
    const changed = digest(p.root);
    const r = await rollback(p.repo, { snapshot: rev });
    assert.deepEqual(r.errors, []);
    assert.ok(r.safety, "a safety snapshot was taken");
    assert.equal(r.safety.kind, "safety");
    assert.ok(r.verified && r.verified.mismatches === 0 && r.verified.files > 0);
    // lib/ stays: it holds an ignored node_modules; lib/x.ts is gone.
    const now = digest(p.root, [...ignored, "lib"]);
    assert.deepEqual(now, atRevision);
    assert.ok(!existsSync(join(p.root, "lib/x.ts")));
    assert.equal(p.read("lib/node_modules/dep/i.js"), "ignored below a new directory\n");
    assert.equal(p.read("node_modules/pkg/index.js"), "module.exports = 42;\n");
    assert.equal(p.read("scratch.tmp"), "excluded by pattern\n");
    assert.equal(p.read("more.log"), "ignored by .gitignore\n");
    // Back to where the user was, through the safety snapshot.
    const back = await rollback(p.repo, { snapshot: r.safety });
    assert.deepEqual(back.errors, []);
    assert.deepEqual(digest(p.root), changed);
  });

  it("rewrites a file whose size and mtime match the revision but whose content does not", async () => {
    const rev = await revision();
    const file = join(p.root, "src/a.ts");
    const { mtime } = statSync(file);
    writeFileSync(file, "export const a = 7;\n"); // same length
    utimesSync(file, mtime, mtime);
    const r = await rollback(p.repo, { snapshot: rev });
    assert.deepEqual(r.errors, []);
    assert.equal(p.read("src/a.ts"), "export const a = 1;\n");
  });

  it("saves files the filters leave out but the rollback overwrites in a second safety snapshot", async () => {
    p.write("build/out.js", "built at the revision\n");
    const rev = await revision();
    p.write(".gitignore", "node_modules/\n*.log\nbuild/\n");
    p.write("build/out.js", "built since: only here\n");
    const r = await rollback(p.repo, { snapshot: rev });
    assert.deepEqual(r.errors, []);
    assert.equal(p.read("build/out.js"), "built at the revision\n");
    assert.ok(r.extraSafety, "a second safety snapshot holds build/");
    const target = mkdtempSync(join(p.dir, "extra-"));
    await restore(p.repo, { snapshot: r.extraSafety, target });
    assert.equal(readFileSync(join(target, p.root, "build/out.js"), "utf8"), "built since: only here\n");
  });

  it("takes the safety snapshot again when files change under it, and gives up when they keep changing", async () => {
    const rev = await revision();
    change();
    let calls = 0;
    const r = await rollback(p.repo, {
      snapshot: rev,
      onSafetySnapshot: () => {
        if (calls++ === 0) p.write("src/c.ts", "written after the first safety snapshot\n");
      },
    });
    assert.equal(calls, 2);
    assert.deepEqual(r.errors, []);
    assert.ok(!existsSync(join(p.root, "src/c.ts")));
    const target = mkdtempSync(join(p.dir, "safety-"));
    await restore(p.repo, { snapshot: r.safety!, target });
    assert.equal(readFileSync(join(target, p.root, "src/c.ts"), "utf8"), "written after the first safety snapshot\n");

    change();
    let n = 0;
    await assert.rejects(
      rollback(p.repo, { snapshot: rev, onSafetySnapshot: () => p.write("src/a.ts", `still changing ${n++}\n`) }),
      (e: unknown) => e instanceof CofferError && /keep changing/.test(e.message),
    );
    assert.equal(p.read("src/c.ts"), "export const c = 3;\n", "nothing was rolled back");
  });

  it("notes a rollback under way and reports it to the next one", async () => {
    const rev = await revision();
    change();
    const journalDir = join(p.dir, "state");
    const first = await rollback(p.repo, { snapshot: rev, journalDir });
    assert.equal(first.interrupted, undefined);
    assert.deepEqual(readdir(journalDir), [], "a finished rollback leaves no note");
    writeFileSync(join(journalDir, "x"), ""); // unrelated files are ignored
    change();
    // Simulate an interruption: a note left by a run that did not finish.
    const { journalFile, writeJournal } = await import("../../src/ops/rollback-journal.js");
    writeJournal(journalFile(journalDir, p.repo.config.id, [p.root]), { snapshot: rev.id, safety: ["f".repeat(64)], paths: [p.root], started: "2026-11-20T10:00:00.000Z" });
    const second = await rollback(p.repo, { snapshot: rev, journalDir });
    assert.deepEqual(second.interrupted?.safety, ["f".repeat(64)]);
    assert.deepEqual(readdir(journalDir), ["x"]);
  });

  it("rolls back only the paths given", async () => {
    const rev = await revision();
    change();
    const r = await rollback(p.repo, { snapshot: rev, paths: [join(p.root, "src")] });
    assert.deepEqual(r.errors, []);
    assert.equal(p.read("src/a.ts"), "export const a = 1;\n");
    assert.ok(existsSync(join(p.root, "lib/x.ts")), "outside the path: untouched");
    assert.equal(statSync(join(p.root, "README.md")).mode & 0o777, 0o600);
    await assert.rejects(rollback(p.repo, { snapshot: rev, paths: [p.dir] }), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  });

  it("rolls back a single file (a name with glob characters), and a directory that is gone entirely", async () => {
    const file = join(p.root, "we[ir]d {1}*.txt");
    writeFileSync(file, "as approved\n");
    const rev = (await saveRevision(p.repo, { name: "one-file", paths: [file, join(p.root, "src")], workers: 1 })).snapshot;
    const { mtime } = statSync(file);
    writeFileSync(file, "as changed!\n"); // same size, same mtime: only the content tells
    utimesSync(file, mtime, mtime);
    p.write("README.md", "not part of the revision\n");
    rmSync(join(p.root, "src"), { recursive: true });
    const r = await rollback(p.repo, { snapshot: rev });
    assert.deepEqual(r.errors, []);
    assert.equal(readFileSync(file, "utf8"), "as approved\n");
    assert.equal(p.read("src/a.ts"), "export const a = 1;\n");
    assert.equal(p.read("README.md"), "not part of the revision\n", "next to the file: untouched");
    assert.deepEqual(r.safety?.paths, [file], "the missing directory has nothing to keep");
  });

  it("finds the target by revision name or snapshot id, with one sentence otherwise", async () => {
    const rev = await revision("release-1");
    assert.equal((await findRollbackTarget(p.repo, "release-1")).id, rev.id);
    assert.equal((await findRollbackTarget(p.repo, rev.id.slice(0, 8))).id, rev.id);
    await assert.rejects(findRollbackTarget(p.repo, "nope"), (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND" && /no revision named "nope"/.test(e.message));
    await assert.rejects(findRollbackTarget(p.repo, "abcdef12"), (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND" && /no snapshot whose id/.test(e.message));
    // Two snapshots share the empty prefix's first digit often enough: make an ambiguous prefix.
    const ids = (await listSnapshots(p.repo)).map((s) => s.id);
    for (let i = 0; i < 40 && !hasCommonFirstDigit(ids); i++) {
      p.write("README.md", `# ${i}\n`);
      ids.push((await saveRevision(p.repo, { name: `r${i}`, paths: [p.root], workers: 1 })).snapshot.id);
    }
    const prefix = commonFirstDigit(ids);
    await assert.rejects(findRollbackTarget(p.repo, prefix), (e: unknown) => e instanceof CofferError && e.code === "AMBIGUOUS");
    assert.equal((await findSnapshot(p.repo, rev.id)).label, "release-1");
  });
});

function readdir(dir: string): string[] {
  return readdirSync(dir).sort();
}

function commonFirstDigit(ids: string[]): string {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id[0] as string)) return id[0] as string;
    seen.add(id[0] as string);
  }
  return "";
}

function hasCommonFirstDigit(ids: string[]): boolean {
  return commonFirstDigit(ids) !== "";
}
