import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeCliRepo } from "./cli-repo.js";

async function setup() {
  const r = await makeCliRepo();
  const src = join(r.dir, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "sub", "hello.txt"), "hello, blob\n");
  const id = await r.backup([src]);
  return { r, src, id };
}

test("cat config, snapshot, key, index and tree print decrypted JSON; the id key is hidden", async () => {
  const { r, src, id } = await setup();
  try {
    const config = await r.run(["cat", "config"]);
    assert.equal(config.code, 0, config.err);
    const c = JSON.parse(config.out) as { version: number; id_key: string };
    assert.equal(c.version, 1);
    assert.equal(c.id_key, "(hidden)");
    assert.match(config.out, /^{\n {2}"version": 1,/);
    const snap = JSON.parse((await r.run(["cat", "snapshot", id.slice(0, 8)])).out) as { tree: string; paths: string[] };
    assert.deepEqual(snap.paths, [src]);
    assert.deepEqual(JSON.parse((await r.run(["cat", "snapshot", "latest"])).out), snap);
    const repo = await r.open();
    const [keyId] = await repo.listIds("key");
    const [indexId] = await repo.listIds("index");
    await repo.close();
    const key = JSON.parse((await r.run(["cat", "key", keyId!.slice(0, 6)])).out) as { kdf: string };
    assert.equal(key.kdf, "scrypt");
    const index = JSON.parse((await r.run(["cat", "index", indexId!])).out) as unknown;
    assert.equal(typeof index, "object");
    const tree = JSON.parse((await r.run(["cat", "tree", `latest:${src}/sub`])).out) as { nodes: { name: string; content: string[] }[] };
    assert.equal(tree.nodes[0]?.name, "hello.txt");
    const root = JSON.parse((await r.run(["cat", "tree", snap.tree.slice(0, 12)])).out) as { nodes: unknown[] };
    assert.equal(root.nodes.length, 1);
    const compact = await r.run(["cat", "config", "--json"]);
    assert.equal(compact.out.trim().split("\n").length, 1);
  } finally {
    await r.cleanup();
  }
});

test("cat blob prints the plain bytes; cat pack the stored bytes", async () => {
  const { r, src } = await setup();
  try {
    const tree = JSON.parse((await r.run(["cat", "tree", `latest:${src}/sub`])).out) as { nodes: { content: string[] }[] };
    const blob = tree.nodes[0]!.content[0]!;
    const res = await r.spawn(["cat", "blob", blob.slice(0, 10)]);
    assert.equal(res.code, 0, res.err);
    assert.equal(res.out.toString(), "hello, blob\n");
    const repo = await r.open();
    await repo.loadIndex();
    const pack = repo.index.lookup(Buffer.from(blob, "hex"))!.pack;
    const stored = await repo.backend.load({ type: "data", name: pack });
    await repo.close();
    const p = await r.spawn(["cat", "pack", pack.slice(0, 12)]);
    assert.deepEqual(p.out, stored);
  } finally {
    await r.cleanup();
  }
});

test("cat refuses the master key, unknown types and missing ids with one sentence", async () => {
  const { r } = await setup();
  try {
    const mk = await r.run(["cat", "masterkey"]);
    assert.equal(mk.code, 1);
    assert.match(mk.err, /^coffer: The master key is never printed;/);
    assert.equal(mk.out, "");
    const bad = await r.run(["cat", "frob"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /"frob" is not something cat prints/);
    const noId = await r.run(["cat", "snapshot"]);
    assert.equal(noId.code, 2);
    const missing = await r.run(["cat", "index", "abcdef"]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /No index has an id starting with "abcdef"/);
    const blob = await r.run(["cat", "blob", "00000000"]);
    assert.equal(blob.code, 1);
  } finally {
    await r.cleanup();
  }
});
