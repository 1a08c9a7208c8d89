// The public library API (src/index.ts, the package's entry point): a day's work through its
// exports alone, as an application embedding coffer would do it.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as coffer from "../src/index.js";

test("init, backup, an incremental backup, list, restore and check through src/index.ts, and a wrong password", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-api-"));
  try {
    const data = join(dir, "app");
    await mkdir(join(data, "users"), { recursive: true });
    await writeFile(join(data, "users", "alice.json"), JSON.stringify({ name: "alice" }));
    await writeFile(join(data, "config.yaml"), "port: 8080\n");
    const kdf = { N: 1024, r: 8, p: 1 };
    const repo = await coffer.Repository.init(new coffer.LocalBackend(join(dir, "repo")), { password: "api test", kdf });
    const first = await coffer.backup(repo, { paths: [data], tags: ["daily"] });
    assert.ok(first.snapshot, "a snapshot was saved");
    assert.equal(first.summary.files_new, 2);
    await writeFile(join(data, "config.yaml"), "port: 9090\n");
    const second = await coffer.backup(repo, { paths: [data] });
    assert.equal(second.parent, first.snapshot.id, "the first is the second's parent");
    assert.equal(second.summary.files_changed, 1);
    assert.equal(second.summary.files_unmodified, 1);
    await repo.close();

    // Opened again with the password, as another process would.
    const again = await coffer.Repository.open(new coffer.LocalBackend(join(dir, "repo")), { password: "api test" });
    const snaps = await coffer.listSnapshots(again);
    assert.deepEqual(snaps.map((s) => s.id), [first.snapshot.id, second.snapshot!.id]);
    const target = join(dir, "restored");
    const restored = await coffer.restore(again, { snapshot: snaps[0]!, target });
    assert.equal(restored.errors.length, 0);
    assert.equal(await readFile(join(target, data, "config.yaml"), "utf8"), "port: 8080\n", "the first snapshot's content");
    const checked = await coffer.check(again, { readData: true });
    assert.equal(checked.ok, true, JSON.stringify(checked.errors));
    await again.close();
    await assert.rejects(
      coffer.Repository.open(new coffer.LocalBackend(join(dir, "repo")), { password: "wrong" }),
      (err: unknown) => coffer.isCofferError(err, "WRONG_PASSWORD"),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
