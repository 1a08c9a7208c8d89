import assert from "node:assert/strict";
import { randomBytes, scrypt } from "node:crypto";
import { describe, it } from "node:test";
import { loadAddon } from "../../src/core/native-addon.js";
import { DEFAULT_KDF, deriveKey, type KdfParams } from "../../src/crypto/kdf.js";

/** Node's scrypt (OpenSSL's), the lanes one after another: what deriveKey must equal. */
function nodeScrypt(password: string, salt: Uint8Array, params: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, 32, { ...params, maxmem: 512 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

type ScryptLanes = (blocks: Buffer, N: number, r: number, p: number, threads: number) => Promise<void>;

describe("deriveKey", () => {
  it("gives Node's scrypt key, lanes in parallel or not", async () => {
    const cases: [string, KdfParams][] = [
      ["pässword", { N: 16, r: 1, p: 1 }],
      ["correct horse", { N: 1024, r: 8, p: 3 }],
      ["e\u0301", { N: 2048, r: 3, p: 5 }], // NFC-normalised like every password
      ["", { N: 4096, r: 8, p: 2 }],
    ];
    for (const [password, params] of cases) {
      const salt = randomBytes(32);
      assert.deepEqual(await deriveKey(password, salt, params), await nodeScrypt(password, salt, params), JSON.stringify(params));
    }
  });

  it("derives the same keys as Node with the default parameters and the previous ones", async () => {
    for (const params of [DEFAULT_KDF, { N: 1 << 15, r: 8, p: 3 }]) {
      const salt = randomBytes(32);
      assert.deepEqual(await deriveKey("bench", salt, params), await nodeScrypt("bench", salt, params));
    }
  });

  it("rejects parameters scrypt does not allow, as Node does", async () => {
    await assert.rejects(deriveKey("pw", randomBytes(16), { N: 1000, r: 8, p: 3 }));
    await assert.rejects(deriveKey("pw", randomBytes(16), { N: 1024, r: 0, p: 3 }));
  });
});

describe("the addon's scryptLanes", () => {
  const lanes = loadAddon()?.["scryptLanes"] as ScryptLanes | undefined;

  it("is built", () => {
    assert.equal(typeof lanes, "function");
  });

  it("matches RFC 7914's test vector (N = 1024, r = 8, p = 16) on any number of threads", async () => {
    const { pbkdf2Sync } = await import("node:crypto");
    const want = "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640";
    for (const threads of [1, 2, 5]) {
      const blocks = pbkdf2Sync("password", "NaCl", 1, 16 * 128 * 8, "sha256");
      await lanes?.(blocks, 1024, 8, 16, threads);
      assert.equal(pbkdf2Sync("password", blocks, 1, 64, "sha256").toString("hex"), want, `${threads} threads`);
    }
  });

  it("refuses arguments that do not describe lanes", () => {
    assert.throws(() => lanes?.(Buffer.alloc(1024), 1000, 8, 1, 1), /power of two/);
    assert.throws(() => lanes?.(Buffer.alloc(1000), 1024, 8, 1, 1), /p \* 128 \* r/);
    assert.throws(() => (lanes as unknown as (b: unknown) => void)("x"), /scryptLanes/);
  });

  it("rejects, losing nothing, when a lane's memory cannot be had", async () => {
    // 128 * r * N = 2^50 bytes: no allocator gives that.
    await assert.rejects(lanes?.(Buffer.alloc(128 * 8 * 2), 2 ** 40, 8, 2, 2) ?? Promise.reject(new Error("no addon")), /not enough memory/);
  });
});
