import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(join(src, "sub", "deeper"), { recursive: true });
  await writeFile(join(src, "a.txt"), "hello");
  await writeFile(join(src, "sub", "b.txt"), "bb");
  await writeFile(join(src, "sub", "deeper", "c.txt"), "c");
  await symlink("a.txt", join(src, "link"));
  const id = await r.backup([src]);
  return { r, src, id };
}

test("ls lists the whole snapshot recursively, by full paths", async () => {
  const { r, src, id } = await setup();
  try {
    const res = await r.run(["ls", "latest"]);
    assert.equal(res.code, 0, res.err);
    const lines = res.out.trim().split("\n");
    assert.equal(lines[0], "/" + src.split("/")[1]);
    const rel = lines.filter((l) => l.startsWith(src)).map((l) => l.slice(src.length));
    assert.deepEqual(rel, ["", "/a.txt", "/link", "/sub", "/sub/b.txt", "/sub/deeper", "/sub/deeper/c.txt"]);
    assert.match(res.err, new RegExp(`snapshot ${id.slice(0, 8)} of \\[${src}\\]`));
    const byPrefix = await r.run(["ls", id.slice(0, 6)]);
    assert.equal(byPrefix.out, res.out);
  } finally {
    await r.cleanup();
  }
});

test("ls PATH lists the directory and its entries; --recursive goes below; -l is a long listing", async () => {
  const { r, src } = await setup();
  try {
    const top = await r.run(["ls", "latest", src]);
    assert.deepEqual(top.out.trim().split("\n"), [src, `${src}/a.txt`, `${src}/link`, `${src}/sub`]);
    const rec = await r.run(["ls", "latest", `${src}/sub`, "--recursive"]);
    assert.deepEqual(rec.out.trim().split("\n"), [`${src}/sub`, `${src}/sub/b.txt`, `${src}/sub/deeper`, `${src}/sub/deeper/c.txt`]);
    const noRec = await r.run(["ls", "latest", "--no-recursive"]);
    assert.equal(noRec.out.trim().split("\n").length, 1);
    const long = await r.run(["ls", "latest", src, "-l"]);
    const lines = long.out.trim().split("\n");
    assert.match(lines[1] ?? "", /^-rw-r--r-- \S+\s+\S+\s+5 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d .*\/a\.txt$/);
    assert.match(lines[2] ?? "", /^lrwxrwxrwx .* -> a\.txt$/);
    assert.match(lines[3] ?? "", /^drwx/);
    const file = await r.run(["ls", "latest", `${src}/a.txt`]);
    assert.equal(file.out, `${src}/a.txt\n`);
  } finally {
    await r.cleanup();
  }
});

test("ls --json is one document; --ndjson is one node per line", async () => {
  const { r, src, id } = await setup();
  try {
    const res = await r.run(["ls", "latest", src, "--json"]);
    assert.equal(res.code, 0, res.err);
    assert.equal(res.err, "");
    const doc = JSON.parse(res.out) as { snapshot: { id: string }; path: string; nodes: { path: string; type: string; size: number; permissions: string; content?: unknown }[] };
    assert.equal(doc.snapshot.id, id);
    assert.equal(doc.path, src);
    assert.deepEqual(doc.nodes.map((n) => n.path), [src, `${src}/a.txt`, `${src}/link`, `${src}/sub`]);
    assert.equal(doc.nodes[1]?.size, 5);
    assert.equal(doc.nodes[1]?.permissions, "-rw-r--r--");
    assert.equal(doc.nodes[1]?.content, undefined);
    const nd = await r.run(["ls", "latest", `${src}/sub`, "--ndjson", "--recursive"]);
    const lines = nd.out.trim().split("\n").map((l) => JSON.parse(l) as { struct_type: string; path?: string });
    assert.equal(lines[0]?.struct_type, "snapshot");
    assert.deepEqual(lines.slice(1).map((l) => l.path), [`${src}/sub`, `${src}/sub/b.txt`, `${src}/sub/deeper`, `${src}/sub/deeper/c.txt`]);
  } finally {
    await r.cleanup();
  }
});

test("ls with an unknown snapshot, an ambiguous prefix or a missing path fails with one sentence", async () => {
  const { r, src, id } = await setup();
  try {
    const unknown = await r.run(["ls", "deadbeef"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^coffer: No snapshot has an id starting with "deadbeef"\.\n$/);
    // Copies of the snapshot under other labels until two ids share their first digit.
    const repo = await r.open();
    const snap = (await repo.loadJson("snapshot", id)) as Record<string, unknown>;
    const firsts = new Set([id[0]]);
    let shared: string | undefined;
    for (let i = 0; shared === undefined; i++) {
      const copy = await repo.saveJson("snapshot", { ...snap, label: `copy ${i}` });
      if (firsts.has(copy[0])) shared = copy[0];
      firsts.add(copy[0]);
    }
    await repo.close();
    const amb = await r.run(["ls", shared]);
    assert.equal(amb.code, 1);
    assert.match(amb.err, /^coffer: The prefix "[0-9a-f]" matches \d+ snapshots; give more characters\.\n$/);
    const missing = await r.run(["ls", "latest", `${src}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /The snapshot has no .*\/nope; run "coffer ls"/);
    const noMatch = await r.run(["ls", "latest", "--host", "no-such-host"]);
    assert.equal(noMatch.code, 1);
    assert.match(noMatch.err, /no snapshot matching the filters/);
  } finally {
    await r.cleanup();
  }
});

test("ls --help shows examples", async () => {
  const { r } = await setup();
  try {
    const res = await r.run(["ls", "--help"]);
    assert.equal(res.code, 0);
    assert.match(res.out, /Examples:\n {2}coffer ls latest/);
  } finally {
    await r.cleanup();
  }
});
