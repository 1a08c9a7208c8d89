import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isCofferError } from "../../src/core/errors.js";
import { jsBlake3 } from "../../src/repository/blob-id.js";
import { newConfig, parseConfig } from "../../src/repository/config.js";
import { defaultPackHash, packHasher, packHashHex, type PackHash } from "../../src/repository/pack-hash.js";
import { PASSWORD, sandbox, type Sandbox } from "../faults/fault-helpers.js";

const encode = (c: object): Buffer => Buffer.from(JSON.stringify(c));

describe("the pack hash", () => {
  it("is BLAKE3 or SHA-256 of all the bytes, the same however they arrive", () => {
    // BLAKE3's published values for "" and "abc".
    assert.equal(packHashHex("blake3", Buffer.alloc(0)), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    assert.equal(packHashHex("blake3", Buffer.from("abc")), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
    const data = randomBytes(3 * 1024 * 1024 + 17);
    assert.equal(packHashHex("sha256", data), createHash("sha256").update(data).digest("hex"));
    for (const kind of ["sha256", "blake3"] as const) {
      const h = packHasher(kind);
      for (let at = 0; at < data.length; at += 100_003) h.update(data.subarray(at, at + 100_003));
      assert.equal(h.hex(), packHashHex(kind, data), kind);
    }
    // The pure-JS BLAKE3 (where the native build does not load) agrees.
    const js = jsBlake3().create({});
    js.update(data);
    assert.equal(Buffer.from(js.digest()).toString("hex"), packHashHex("blake3", data));
  });

  it("new repositories name packs with BLAKE3 (its native build loads here); older configs read as sha256", () => {
    assert.equal(defaultPackHash(), "blake3");
    assert.equal(newConfig({ encryption: "none" }).pack_hash, "blake3");
    assert.equal(newConfig({ encryption: "none", packHash: "sha256" }).pack_hash, "sha256");
    const { pack_hash: _, ...old } = newConfig({ encryption: "none" });
    assert.equal(parseConfig(encode(old)).pack_hash, undefined);
    // copy-params shares chunker and id parameters, not the pack hash (packs are never shared).
    assert.equal(newConfig({ encryption: "none", paramsFrom: { ...parseConfig(encode(old)) } }).pack_hash, "blake3");
  });

  it("an unknown pack_hash is refused as UNSUPPORTED, naming it", () => {
    const c = { ...newConfig({ encryption: "none" }), pack_hash: "md5" };
    assert.throws(
      () => parseConfig(encode(c)),
      (err: unknown) => isCofferError(err) && err.code === "UNSUPPORTED" && /"md5"/.test(err.message),
    );
  });
});

/** Every pack file of the repository: its name and bytes. */
async function packs(sb: Sandbox): Promise<{ name: string; path: string; bytes: Buffer }[]> {
  const out = [];
  for (const sub of await readdir(join(sb.repo, "data"))) {
    for (const name of await readdir(join(sb.repo, "data", sub))) {
      const path = join(sb.repo, "data", sub, name);
      out.push({ name, path, bytes: await readFile(path) });
    }
  }
  return out;
}

for (const kind of ["blake3", "sha256"] as const satisfies readonly PackHash[]) {
  describe(`a repository whose packs are named by ${kind}`, () => {
    it("backs up (workers and main thread), checks every pack's name, and finds a damaged one", async () => {
      const sb = await sandbox(`pack-hash-${kind}`, { init: false });
      try {
        const init = await sb.cli(["init", "--json", "--pack-hash", kind]);
        assert.equal(init.code, 0, init.err);
        assert.equal(JSON.parse(init.out).pack_hash, kind);
        await writeFile(join(sb.src, "big"), randomBytes(1536 * 1024));
        await writeFile(join(sb.src, "small"), "hello\n");
        const b = await sb.cli(["backup", sb.src]);
        assert.equal(b.code, 0, b.err);
        const all = await packs(sb);
        assert.ok(all.length >= 2, "a data pack and a tree pack");
        for (const p of all) assert.equal(p.name, packHashHex(kind, p.bytes), `${p.name} is named by ${kind}`);
        const ok = await sb.cli(["check", "--read-data"]);
        assert.equal(ok.code, 0, ok.out + ok.err);
        // One flipped byte in the largest pack (the data): check names it.
        const victim = all.reduce((a, x) => (x.bytes.length > a.bytes.length ? x : a));
        victim.bytes[victim.bytes.length >> 1]! ^= 1;
        await writeFile(victim.path, victim.bytes);
        const bad = await sb.cli(["check", "--read-data"]);
        assert.equal(bad.code, 1, bad.out + bad.err);
        assert.match(bad.out + bad.err, new RegExp(`${victim.name.slice(0, 8)}[^\\n]*do not match its name`));
      } finally {
        await sb.cleanup();
      }
    });
  });
}

describe("copy between repositories whose packs are named by different hashes", () => {
  it("writes the target's packs under its own hash; both check, and the copy restores", async () => {
    const sb = await sandbox("pack-hash-copy", { init: false });
    try {
      const init = await sb.cli(["init", "--pack-hash", "sha256"]);
      assert.equal(init.code, 0, init.err);
      await writeFile(join(sb.src, "big"), randomBytes(1536 * 1024));
      await writeFile(join(sb.src, "small"), "hello\n");
      assert.equal((await sb.cli(["backup", sb.src])).code, 0);
      const target = join(sb.dir, "target");
      const env = { env: { ...sb.env, COFFER_FROM_PASSWORD: PASSWORD } };
      const t = await sb.cli(["-r", target, "init", "--json", "--copy-params-from", sb.repo], env);
      assert.equal(t.code, 0, t.err);
      assert.equal(JSON.parse(t.out).pack_hash, "blake3");
      const c = await sb.cli(["copy", "--from-repo", sb.repo, "--to-repo", target], env);
      assert.equal(c.code, 0, c.err);
      for (const [root, kind] of [[sb.repo, "sha256"], [target, "blake3"]] as const) {
        const all = await packs({ ...sb, repo: root });
        assert.ok(all.length >= 2);
        for (const p of all) assert.equal(p.name, packHashHex(kind, p.bytes), `${root}: ${p.name} is named by ${kind}`);
        const check = await sb.cli(["-r", root, "check", "--read-data"]);
        assert.equal(check.code, 0, check.out + check.err);
      }
      const restored = join(sb.dir, "restored");
      const r = await sb.cli(["-r", target, "restore", "latest", "--target", restored]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await readFile(join(restored, sb.src, "big")), await readFile(join(sb.src, "big")));
    } finally {
      await sb.cleanup();
    }
  });
});

describe("init --pack-hash", () => {
  it("refuses a hash it does not know, with a usage error and no repository", async () => {
    const sb = await sandbox("pack-hash-usage", { init: false });
    try {
      const r = await sb.cli(["init", "--pack-hash", "md5"]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /--pack-hash must be one of sha256, blake3/);
      await assert.rejects(readdir(sb.repo), /ENOENT/);
    } finally {
      await sb.cleanup();
    }
  });
});
