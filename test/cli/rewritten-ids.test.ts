import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeCliRepo } from "./cli-repo.js";

test("ids printed before a full check --read-data stamped the snapshots still work in restore, ls, dump, diff, tag and forget", async () => {
  const r = await makeCliRepo();
  try {
    const src = join(r.dir, "src");
    await mkdir(src);
    await writeFile(join(src, "a.txt"), "first");
    const first = await r.backup([src]);
    await writeFile(join(src, "a.txt"), "second");
    const second = await r.backup([src]);

    const checked = await r.run(["check", "--read-data"]);
    assert.equal(checked.code, 0, checked.err);
    const repo = await r.open();
    const files = await repo.listIds("snapshot");
    await repo.close();
    assert.ok(!files.includes(first) && !files.includes(second), "the stamp rewrote both snapshot files");

    const target = join(r.dir, "out");
    const restored = await r.run(["restore", first.slice(0, 8), "--target", target]);
    assert.equal(restored.code, 0, restored.err);
    assert.equal(await readFile(join(target, src, "a.txt"), "utf8"), "first");

    const ls = await r.run(["ls", first]);
    assert.equal(ls.code, 0, ls.err);
    assert.ok(ls.out.includes(`${src}/a.txt`));

    const dump = await r.run(["dump", second.slice(0, 10), `${src}/a.txt`]);
    assert.equal(dump.code, 0, dump.err);
    assert.equal(dump.out, "second");

    const diff = await r.run(["diff", first.slice(0, 8), second.slice(0, 8)]);
    assert.equal(diff.code, 0, diff.err);
    assert.match(diff.out, /a\.txt/);

    // A tag rewrite, then another stamp: the id printed at backup time still works, as do the ones between.
    const tagged = await r.run(["tag", first.slice(0, 8), "--add", "keep", "--json"]);
    assert.equal(tagged.code, 0, tagged.err);
    const afterTag = (JSON.parse(tagged.out) as { new_id: string }[])[0]?.new_id as string;
    assert.ok(afterTag && !files.includes(afterTag));
    assert.equal((await r.run(["check", "--read-data"])).code, 0);
    const ls2 = await r.run(["ls", afterTag.slice(0, 8), "--json"]);
    assert.equal(ls2.code, 0, ls2.err);

    const forgot = await r.run(["forget", first.slice(0, 8)]);
    assert.equal(forgot.code, 0, forgot.err);
    const left = await r.run(["snapshots", "--json"]);
    const list = JSON.parse(left.out) as { original?: string; id: string }[];
    assert.deepEqual(list.map((s) => s.original ?? s.id), [second]);
  } finally {
    await r.cleanup();
  }
});
