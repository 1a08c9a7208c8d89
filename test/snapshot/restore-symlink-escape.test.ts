/**
 * Security regression tests: a snapshot (hostile, or just unlucky) and what is already in the
 * target must never make a restore write outside the target.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Handle, LoadOptions } from "../../src/backend/backend.js";
import { DelegatingBackend } from "../../src/backend/delegating-backend.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import type { Warning } from "../../src/core/warning.js";
import { Repository } from "../../src/repository/repository.js";
import { restore } from "../../src/snapshot/restorer.js";
import { craftSnapshot, type Spec, testRepo } from "../helpers/restore-fixtures.js";

let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), "coffer-restore-escape-"));
});
after(() => {
  rmSync(base, { recursive: true, force: true });
});

/** A fresh outside directory (that must stay empty or unchanged) and a target beside it. */
function dirs(): { outside: string; target: string } {
  const root = join(base, `case${n++}`);
  const outside = join(root, "outside");
  const target = join(root, "target");
  mkdirSync(outside, { recursive: true });
  mkdirSync(target);
  return { outside, target };
}

async function run(repo: Repository, specs: Spec[], target: string, extra: Partial<Parameters<typeof restore>[1]> = {}) {
  const warnings: Warning[] = [];
  const snapshot = await craftSnapshot(repo, specs);
  const result = await restore(repo, { snapshot, target, onWarning: (w) => warnings.push(w), ...extra });
  return { result, warnings };
}

describe("restore never writes outside the target", () => {
  let repo: Repository;
  before(async () => {
    repo = await testRepo();
  });

  for (const order of ["symlink first", "directory first"] as const) {
    test(`a symlink and a directory of the same name (${order}) do not lead outside`, async () => {
      const { outside, target } = dirs();
      const link: Spec = { name: "a", type: "symlink", target: outside };
      const dir: Spec = { name: "a", type: "dir", children: [{ name: "pwned", type: "file", data: "owned" }] };
      const { warnings } = await run(repo, order === "symlink first" ? [link, dir] : [dir, link], target);
      assert.deepEqual(readdirSync(outside), []);
      assert.ok(warnings.some((w) => w.code === "UNSAFE_PATH" && /twice/.test(w.message)));
      if (order === "symlink first") assert.equal(readlinkSync(join(target, "a")), outside);
      else assert.equal(readFileSync(join(target, "a", "pwned"), "utf8"), "owned");
    });
  }

  test("a directory swapped for a symlink during the restore does not get its metadata through the link", async () => {
    const { outside, target } = dirs();
    chmodSync(outside, 0o700);
    const mem = new MemoryBackend();
    const snapshot = await craftSnapshot(await testRepo(mem), [
      { name: "d", type: "dir", mode: 0o751, children: [] },
      { name: "z", type: "file", data: "the file whose bytes are read after d was made" },
    ]);
    // Once d exists, the next read of pack bytes replaces it with a link to outside.
    let swapped = false;
    class Swapping extends DelegatingBackend {
      override load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
        const d = join(target, "d");
        if (!swapped && h.type === "data" && existsSync(d) && lstatSync(d).isDirectory()) {
          rmdirSync(d);
          symlinkSync(outside, d);
          swapped = true;
        }
        return super.load(h, opts);
      }
    }
    const repo = await Repository.open(new Swapping(mem), { password: "pw" });
    await repo.loadIndex();
    const result = await restore(repo, { snapshot, target });
    assert.ok(swapped, "the directory was swapped before its metadata was set");
    assert.equal(lstatSync(outside).mode & 0o7777, 0o700, "the link's target kept its mode");
    assert.ok(lstatSync(join(target, "d")).isSymbolicLink());
    assert.ok(result.errors.some((e) => /metadata of the directory .*\bd\b could not be set/.test(e.message)), JSON.stringify(result.errors));
  });

  test("an absolute symlink is restored as a link and never traversed", async () => {
    const { outside, target } = dirs();
    const specs: Spec[] = [
      { name: "abs", type: "symlink", target: outside },
      { name: "rel", type: "symlink", target: "../outside" },
      { name: "z", type: "dir", children: [{ name: "f", type: "file", data: "x" }] },
    ];
    const { result } = await run(repo, specs, target);
    assert.deepEqual(result.errors, []);
    assert.equal(readlinkSync(join(target, "abs")), outside);
    assert.equal(readlinkSync(join(target, "rel")), "../outside");
    assert.deepEqual(readdirSync(outside), []);
  });

  for (const bad of ["..", ".", "", "../escape", "a/b", "x\0y", "/abs"]) {
    test(`a node named ${JSON.stringify(bad)} is refused with UNSAFE_PATH`, async () => {
      const { outside, target } = dirs();
      const specs: Spec[] = [
        { name: bad, type: "file", data: "escaped" },
        { name: bad, type: "dir", children: [{ name: "escape", type: "file", data: "escaped" }] },
        { name: "ok", type: "file", data: "fine" },
      ];
      const { result, warnings } = await run(repo, specs, target);
      assert.ok(warnings.some((w) => w.code === "UNSAFE_PATH"), "a warning names the refused entry");
      assert.deepEqual(readdirSync(target).sort(), ["ok"]);
      assert.deepEqual(readdirSync(outside), []);
      assert.equal(existsSync(join(target, "..", "escape")), false);
      assert.equal(result.filesRestored, 1);
    });
  }

  test("a pre-existing symlink where the snapshot has a directory is replaced, not followed", async () => {
    const { outside, target } = dirs();
    symlinkSync(outside, join(target, "d"));
    await run(repo, [{ name: "d", type: "dir", children: [{ name: "f", type: "file", data: "inside" }] }], target);
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(lstatSync(join(target, "d")).isDirectory());
    assert.equal(readFileSync(join(target, "d", "f"), "utf8"), "inside");
  });

  test("with overwrite never, a pre-existing symlink directory is refused", async () => {
    const { outside, target } = dirs();
    symlinkSync(outside, join(target, "d"));
    const { warnings } = await run(repo, [{ name: "d", type: "dir", children: [{ name: "f", type: "file", data: "inside" }] }], target, { overwrite: "never" });
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(lstatSync(join(target, "d")).isSymbolicLink());
    assert.ok(warnings.some((w) => w.code === "UNSAFE_PATH"));
  });

  test("a pre-existing symlink where the snapshot has a file is replaced, not written through", async () => {
    const { outside, target } = dirs();
    writeFileSync(join(outside, "victim"), "original");
    symlinkSync(join(outside, "victim"), join(target, "f"));
    await run(repo, [{ name: "f", type: "file", data: "restored" }], target);
    assert.equal(readFileSync(join(outside, "victim"), "utf8"), "original");
    assert.ok(lstatSync(join(target, "f")).isFile());
    assert.equal(readFileSync(join(target, "f"), "utf8"), "restored");
  });

  test("a pre-existing hard link to a file outside is replaced, not written through", async () => {
    const { outside, target } = dirs();
    writeFileSync(join(outside, "victim"), "original");
    linkSync(join(outside, "victim"), join(target, "f"));
    await run(repo, [{ name: "f", type: "file", data: "restored" }], target);
    assert.equal(readFileSync(join(outside, "victim"), "utf8"), "original");
    assert.equal(readFileSync(join(target, "f"), "utf8"), "restored");
  });

  test("a symlink in the snapshot is not followed by --delete", async () => {
    const { outside, target } = dirs();
    writeFileSync(join(outside, "keep"), "keep");
    await run(repo, [{ name: "l", type: "symlink", target: outside }], target);
    // A second restore with --delete where "l" is now a directory in the snapshot.
    await run(repo, [{ name: "l", type: "dir", children: [] }], target, { delete: true });
    assert.equal(readFileSync(join(outside, "keep"), "utf8"), "keep");
    assert.ok(lstatSync(join(target, "l")).isDirectory());
  });

  test('a sub-path holding ".." is refused', async () => {
    const { target } = dirs();
    const snapshot = await craftSnapshot(repo, [{ name: "d", type: "dir", children: [] }]);
    await assert.rejects(restore(repo, { snapshot, target, subPath: "/d/../.." }), (err: Error & { code?: string }) => err.code === "USAGE");
  });
});
