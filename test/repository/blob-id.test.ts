import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { isCofferError } from "../../src/core/errors.js";
import { defaultIdHash } from "../../src/repository/blob-id.js";
import { newConfig, parseConfig } from "../../src/repository/config.js";
import { Repository } from "../../src/repository/repository.js";
import { lookupPath } from "../../src/snapshot/walker.js";
import { PASSWORD, sandbox, snapshots } from "../faults/fault-helpers.js";

const encode = (c: object): Buffer => Buffer.from(JSON.stringify(c));

describe("the blob id hash in the config", () => {
  it("new repositories name blobs with keyed BLAKE3 (its native build loads here)", () => {
    assert.equal(defaultIdHash(), "blake3");
    assert.equal(newConfig({ encryption: "none" }).id_hash, "blake3");
  });

  it("a config without id_hash (made before it) reads as hmac-sha256, and copy-params keeps it", () => {
    const { id_hash: _, ...old } = newConfig({ encryption: "none" });
    const parsed = parseConfig(encode(old));
    assert.equal(parsed.id_hash, undefined);
    assert.equal(newConfig({ encryption: "none", paramsFrom: parsed }).id_hash, "hmac-sha256");
    assert.equal(newConfig({ encryption: "none", paramsFrom: { ...parsed, id_hash: "blake3" } }).id_hash, "blake3");
  });

  it("an unknown id_hash is refused as UNSUPPORTED, naming it", () => {
    const c = { ...newConfig({ encryption: "none" }), id_hash: "sha3-512" };
    assert.throws(
      () => parseConfig(encode(c)),
      (err: unknown) => isCofferError(err) && err.code === "UNSUPPORTED" && /"sha3-512"/.test(err.message),
    );
  });
});

describe("BLAKE3 repositories without the native BLAKE3 (COFFER_NATIVE=0)", () => {
  it("back up with native BLAKE3, then restore and check through the pure-JS one: the same ids", async () => {
    const sb = await sandbox("blob-id");
    try {
      const repo = await Repository.open(new LocalBackend(sb.repo), { password: PASSWORD });
      assert.equal(repo.idKey.hash, "blake3");
      await repo.close();
      await mkdir(join(sb.src, "d"));
      const big = Buffer.alloc(600 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
      await writeFile(join(sb.src, "d", "big"), big);
      await writeFile(join(sb.src, "small"), "hello\n");
      const b = await sb.cli(["backup", "--json", sb.src]);
      assert.equal(b.code, 0, b.err);
      const js = { env: { ...sb.env, COFFER_NATIVE: "0" } };
      const check = await sb.cli(["check", "--read-data"], js);
      assert.equal(check.code, 0, check.out + check.err);
      const target = join(sb.dir, "restored");
      const r = await sb.cli(["restore", "latest", "--target", target, "--verify"], js);
      assert.equal(r.code, 0, r.err);
      // A second backup that reads every file again through the JS hash gives the same ids:
      // the backed-up directory's tree is the same blob.
      const again = await sb.cli(["backup", "--json", "--force", sb.src], js);
      assert.equal(again.code, 0, again.err);
      const snaps = await snapshots(sb);
      assert.equal(snaps.length, 2);
      const opened = await sb.open();
      await opened.loadIndex();
      const [first, second] = await Promise.all(snaps.map(async (x) => (await lookupPath(opened, x.tree, sb.src)).treeId));
      assert.ok(first);
      assert.equal(second, first);
      await opened.close();
    } finally {
      await sb.cleanup();
    }
  });

  it("init without the native BLAKE3 makes an hmac-sha256 repository", async () => {
    const sb = await sandbox("blob-id-init", { init: false });
    try {
      const r = await sb.cli(["init"], { env: { ...sb.env, COFFER_NATIVE: "0" } });
      assert.equal(r.code, 0, r.err);
      const repo = await sb.open();
      assert.equal(repo.idKey.hash, "hmac-sha256");
      assert.equal(repo.config.id_hash, "hmac-sha256");
      assert.equal(repo.config.pack_hash, "sha256", "and names its packs by SHA-256, which needs no BLAKE3");
      await repo.close();
    } finally {
      await sb.cleanup();
    }
  });
});
