import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { restore } from "../../src/snapshot/restorer.js";
import { craftSnapshot, testRepo } from "../helpers/restore-fixtures.js";

/**
 * `deleteFilter`: with `delete`, an entry the filter refuses stays; a directory it allows is
 * emptied entry by entry and removed only when nothing refused is left in it (rollback keeps
 * ignored files below directories the revision does not have this way).
 */
test("--delete with a deleteFilter keeps what the filter refuses, and the directories holding it", async () => {
  const repo = await testRepo();
  const snap = await craftSnapshot(repo, [{ name: "keep.txt", type: "file", data: "in the snapshot\n" }]);
  const target = mkdtempSync(join(tmpdir(), "coffer-delete-filter-"));
  try {
    for (const f of ["gone.txt", "old/a.txt", "old/node_modules/m.js", "empty/b.txt", "precious.txt"]) {
      mkdirSync(join(target, f, ".."), { recursive: true });
      writeFileSync(join(target, f), "x");
    }
    const asked: string[] = [];
    const deleteFilter = (path: Buffer): boolean => {
      const rel = path.toString().slice(target.length + 1);
      asked.push(rel);
      return !rel.includes("node_modules") && rel !== "precious.txt";
    };
    const dry = await restore(repo, { snapshot: snap, target, delete: true, deleteFilter, dryRun: true });
    const deletes = (dry.actions ?? []).filter((a) => a.action === "delete").map((a) => a.path.slice(target.length + 1)).sort();
    assert.deepEqual(deletes, ["empty", "empty/b.txt", "gone.txt", "old/a.txt"]);
    assert.ok(existsSync(join(target, "gone.txt")), "a dry run deletes nothing");

    asked.length = 0;
    const r = await restore(repo, { snapshot: snap, target, delete: true, deleteFilter });
    assert.deepEqual(r.errors, []);
    assert.equal(r.deleted, 4);
    assert.ok(!existsSync(join(target, "gone.txt")));
    assert.ok(!existsSync(join(target, "old/a.txt")));
    assert.ok(!existsSync(join(target, "empty")));
    assert.ok(existsSync(join(target, "old/node_modules/m.js")));
    assert.ok(existsSync(join(target, "precious.txt")));
    assert.ok(existsSync(join(target, "keep.txt")));
    assert.ok(!asked.includes("keep.txt"), "entries the snapshot has are never offered for deletion");
    assert.ok(!asked.includes("old/node_modules/m.js"), "below a refused directory nothing is asked");
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});
