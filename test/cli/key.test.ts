import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { makeCliRepo } from "./cli-repo.js";

test("key add: the new password opens the repository and the old one still does", async () => {
  const r = await makeCliRepo();
  try {
    const res = await r.run(["key", "add", "--json"], { COFFER_NEW_PASSWORD: "second-password" });
    assert.equal(res.code, 0, res.err);
    const { id } = JSON.parse(res.out) as { id: string };
    assert.equal((await r.open("second-password")).keyId, id);
    assert.notEqual((await r.open(r.password)).keyId, id);
    const file = join(r.dir, "third.pass");
    await writeFile(file, "third-password\n");
    const viaFile = await r.run(["key", "add", "--new-password-file", file]);
    assert.match(viaFile.out, /^saved new key as [0-9a-f]{8}\n$/);
    assert.ok((await r.open("third-password")).keyId);
    const none = await r.run(["key", "add"]);
    assert.equal(none.code, 1);
    assert.match(none.err, /No new password given; use --new-password-file or COFFER_NEW_PASSWORD/);
  } finally {
    await r.cleanup();
  }
});

test("key list shows every key and marks the current one", async () => {
  const r = await makeCliRepo();
  try {
    await r.run(["key", "add"], { COFFER_NEW_PASSWORD: "other" });
    const current = (await r.open()).keyId!;
    const list = JSON.parse((await r.run(["key", "list", "--json"])).out) as { id: string; current: boolean; hostname: string }[];
    assert.equal(list.length, 2);
    assert.deepEqual(list.filter((k) => k.current).map((k) => k.id), [current]);
    assert.equal(list[0]?.hostname, hostname());
    const text = await r.run(["key", "list"]);
    assert.match(text.out, new RegExp(`^\\*${current.slice(0, 8)} `, "m"));
    const viaOther = JSON.parse((await r.run(["key", "list", "--json"], { COFFER_PASSWORD: "other" })).out) as { id: string; current: boolean }[];
    assert.notEqual(viaOther.find((k) => k.current)?.id, current);
  } finally {
    await r.cleanup();
  }
});

test("key passwd: the new password works and the old one no longer does", async () => {
  const r = await makeCliRepo();
  try {
    const old = (await r.open()).keyId!;
    const res = await r.run(["key", "passwd", "--json"], { COFFER_NEW_PASSWORD: "changed" });
    assert.equal(res.code, 0, res.err);
    const out = JSON.parse(res.out) as { added: string; removed: string };
    assert.equal(out.removed, old);
    assert.equal((await r.open("changed")).keyId, out.added);
    await assert.rejects(r.open(r.password), (e) => isCofferError(e, "WRONG_PASSWORD"));
    const wrong = await r.run(["key", "list"]);
    assert.equal(wrong.code, 12);
  } finally {
    await r.cleanup();
  }
});

test("key remove refuses the current key and the last key, removes another", async () => {
  const r = await makeCliRepo();
  try {
    const current = (await r.open()).keyId!;
    const self = await r.run(["key", "remove", current.slice(0, 8)]);
    assert.equal(self.code, 1);
    assert.match(self.err, /^coffer: Key [0-9a-f]{8} is the one this command opened the repository with; .*\n$/);
    const { id } = JSON.parse((await r.run(["key", "add", "--json"], { COFFER_NEW_PASSWORD: "other" })).out) as { id: string };
    const rm = await r.run(["key", "remove", id.slice(0, 8)]);
    assert.equal(rm.code, 0, rm.err);
    assert.equal(rm.out, `removed key ${id.slice(0, 8)}\n`);
    await assert.rejects(r.open("other"), (e) => isCofferError(e, "WRONG_PASSWORD"));
    // Opened with "other2", the only other key is the current one of the first password:
    // removing it would leave one key, which is allowed; then the last one is refused.
    const { id: id2 } = JSON.parse((await r.run(["key", "add", "--json"], { COFFER_NEW_PASSWORD: "other2" })).out) as { id: string };
    const viaOther = await r.run(["key", "rm", current, "--json"], { COFFER_PASSWORD: "other2" });
    assert.equal(viaOther.code, 0, viaOther.err);
    assert.deepEqual(JSON.parse(viaOther.out), { removed: current });
    const last = await r.run(["key", "remove", id2], { COFFER_PASSWORD: "other2" });
    assert.equal(last.code, 1);
    assert.match(last.err, /opened the repository with|last key/);
    const unknown = await r.run(["key", "remove", "ffffffff"], { COFFER_PASSWORD: "other2" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No key has an id starting with "ffffffff"/);
  } finally {
    await r.cleanup();
  }
});
