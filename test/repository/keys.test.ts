import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism, hostname } from "node:os";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { DEFAULT_KDF, laneThreads, TEST_KDF } from "../../src/crypto/kdf.js";
import { changePassword, listKeys, removeKey } from "../../src/repository/keys.js";
import { Repository } from "../../src/repository/repository.js";
import { saveLockFile } from "./lock-helpers.js";

test("listKeys marks the key the repository was opened with", async () => {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, { password: "one", kdf: TEST_KDF });
  const second = await repo.addKey("two", TEST_KDF);
  const keys = await listKeys(repo);
  assert.equal(keys.length, 2);
  assert.deepEqual(keys.filter((k) => k.current).map((k) => k.id), [repo.keyId]);
  assert.ok(keys.some((k) => k.id === second && !k.current));
  assert.equal(keys[0]?.hostname, hostname());
  const viaSecond = await Repository.open(backend, { password: "two" });
  assert.equal((await listKeys(viaSecond)).find((k) => k.current)?.id, second);
});

test("removeKey refuses the current key and the last key, and removes another by prefix", async () => {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, { password: "one", kdf: TEST_KDF });
  await assert.rejects(removeKey(repo, repo.keyId!), (e) => isCofferError(e, "INVALID") && /opened the repository with/.test(e.message));
  const second = await repo.addKey("two", TEST_KDF);
  assert.equal(await removeKey(repo, second.slice(0, 10)), second);
  await assert.rejects(Repository.open(backend, { password: "two" }), (e) => isCofferError(e, "WRONG_PASSWORD"));
  await assert.rejects(removeKey(repo, "ffffffffff"), (e) => isCofferError(e, "NOT_FOUND"));
  // Opened with a key that is then the only other one: the last key is still refused.
  const third = await repo.addKey("three", TEST_KDF);
  const viaThird = await Repository.open(backend, { password: "three" });
  await removeKey(viaThird, repo.keyId!);
  assert.deepEqual((await listKeys(viaThird)).map((k) => k.id), [third]);
  await assert.rejects(removeKey(repo, third), (e) => isCofferError(e, "INVALID") && /last key/.test(e.message));
});

test("changePassword adds the new key before removing the old one", async () => {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, { password: "old", kdf: TEST_KDF });
  const other = await repo.addKey("other", TEST_KDF);
  const r = await changePassword(repo, "new", TEST_KDF);
  assert.equal(r.removed, repo.keyId);
  await assert.rejects(Repository.open(backend, { password: "old" }), (e) => isCofferError(e, "WRONG_PASSWORD"));
  assert.equal((await Repository.open(backend, { password: "new" })).keyId, r.added);
  assert.equal((await Repository.open(backend, { password: "other" })).keyId, other);
});

test("key removal waits for nobody: a live lock of another process makes it fail with LOCKED", async () => {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, { password: "one", kdf: TEST_KDF });
  const second = await repo.addKey("two", TEST_KDF);
  // A shared lock of a live process (this one) on this host.
  await saveLockFile(repo, { time: new Date().toISOString(), hostname: hostname(), pid: process.pid, exclusive: false });
  await assert.rejects(removeKey(repo, second), (e) => isCofferError(e, "LOCKED"));
  assert.equal((await Repository.open(backend, { password: "two" })).keyId, second);
});

test("an encrypted repository with no key files is WRONG_PASSWORD even when its config's first byte is '{'", async () => {
  // The config's first byte is a random nonce byte: "{" in one repository of 256 made the
  // keyless repository look like a damaged unencrypted one (CORRUPT instead of WRONG_PASSWORD).
  const backend = new MemoryBackend();
  await Repository.init(backend, { password: "one", kdf: TEST_KDF });
  for await (const k of backend.list("key")) await backend.remove({ type: "key", name: k.name });
  const config = await backend.load({ type: "config", name: "" });
  config[0] = 0x7b;
  await backend.save({ type: "config", name: "" }, config);
  await assert.rejects(Repository.open(backend, { password: "one" }), (e) => isCofferError(e, "WRONG_PASSWORD") && /no key files/.test(e.message));
});

test("new keys use the default scrypt cost (16 MiB lanes, two at a time), and keys made with the older defaults still open", async () => {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, { password: "now" });
  const key = await backend.load({ type: "key", name: repo.keyId! });
  const f = JSON.parse(key.toString()) as { N: number; r: number; p: number };
  assert.deepEqual({ N: f.N, r: f.r, p: f.p }, DEFAULT_KDF);
  assert.equal(128 * DEFAULT_KDF.N * DEFAULT_KDF.r, 16 * 1024 * 1024);
  // Two lanes at once where there are two cores: 32 MiB, as one lane of the previous default.
  assert.equal(laneThreads(DEFAULT_KDF), Math.min(2, availableParallelism()));
  assert.equal(laneThreads({ N: 1 << 15, r: 8, p: 3 }), 1);
  for (const [password, params] of [["before", { N: 1 << 15, r: 8, p: 3 }], ["long before", { N: 1 << 16, r: 8, p: 1 }]] as const) {
    await repo.addKey(password, params);
    const viaOld = await Repository.open(backend, { password });
    assert.deepEqual(viaOld.masterKey(), repo.masterKey());
  }
});
