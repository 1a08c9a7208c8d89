import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { Handle, SaveOptions } from "../../src/backend/backend.js";
import { DelegatingBackend } from "../../src/backend/delegating-backend.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { packHashHex, type PackHash } from "../../src/repository/pack-hash.js";
import { PackSaver } from "../../src/repository/pack-saver.js";
import { Repository } from "../../src/repository/repository.js";
import { uploadDigest } from "../../src/repository/upload-digest.js";

/** Holds every pack upload until `release`; records what each save was told. */
class GatedBackend extends DelegatingBackend {
  readonly saves: { h: Handle; sha256: string | undefined; md5: string | undefined; data: Buffer }[] = [];
  uploading = 0;
  #open = false;
  #waiting: (() => void)[] = [];

  constructor(remote: boolean) {
    super(new MemoryBackend(), { remote, connections: 5 });
  }
  release(): void {
    this.#open = true;
    for (const w of this.#waiting.splice(0)) w();
  }
  override async save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    this.saves.push({ h, sha256: opts?.sha256, md5: opts?.md5, data: Buffer.from(data) });
    if (h.type === "data" && !this.#open) {
      this.uploading++;
      await new Promise<void>((res) => this.#waiting.push(res));
      this.uploading--;
    }
    return this.inner.save(h, data);
  }
}

/** Whether `p` has settled once every pending microtask and I/O callback has run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((res) => setImmediate(res));
  return done;
}

/** A saver over a fresh repository whose packs are each one blob (the smallest pack size). */
async function saverOver(remote: boolean, packHash?: PackHash): Promise<{ backend: GatedBackend; saver: PackSaver }> {
  const backend = new GatedBackend(remote);
  const repo = await Repository.init(backend, { encryption: "none", packSize: 512, ...(packHash ? { packHash } : {}) });
  return { backend, saver: new PackSaver(repo) };
}

describe("PackSaver uploads", () => {
  it("keeps two packs uploading at once to a remote store", async () => {
    const { backend, saver } = await saverOver(true);
    await saver.addBlob("data", randomBytes(600));
    const second = saver.addBlob("data", randomBytes(600));
    assert.equal(await settled(second), true, "the second pack starts while the first uploads");
    assert.equal(backend.uploading, 2);
    const third = saver.addBlob("data", randomBytes(600));
    assert.equal(await settled(third), false, "a third waits for a slot");
    backend.release();
    await third;
    await saver.flush();
    assert.equal(backend.saves.filter((s) => s.h.type === "data").length, 3);
  });

  it("uploads one pack at a time to a local store", async () => {
    const { backend, saver } = await saverOver(false);
    await saver.addBlob("data", randomBytes(600));
    const second = saver.addBlob("data", randomBytes(600));
    assert.equal(await settled(second), false);
    assert.equal(backend.uploading, 1);
    backend.release();
    await second;
    await saver.flush();
  });

  it("tells the backend an index file's SHA-256 (its name), and a BLAKE3-named pack's upload digest", async () => {
    const { backend, saver } = await saverOver(true);
    backend.release();
    await saver.addBlob("data", randomBytes(600));
    await saver.flush();
    const hashed = backend.saves.filter((s) => s.h.type !== "config");
    assert.deepEqual(hashed.map((s) => s.h.type).sort(), ["data", "index"]);
    for (const s of hashed) {
      if (s.h.type === "data") {
        assert.equal(packHashHex("blake3", s.data), s.h.name);
        // Whichever digest this CPU takes faster: the one given is the bytes', the other absent.
        if (uploadDigest() === "md5") {
          assert.equal(s.sha256, undefined, "the name is not a SHA-256");
          assert.equal(s.md5, createHash("md5").update(s.data).digest("base64"));
        } else {
          assert.equal(s.md5, undefined);
          assert.equal(s.sha256, createHash("sha256").update(s.data).digest("hex"));
          assert.notEqual(s.sha256, s.h.name);
        }
      } else {
        assert.equal(s.sha256, s.h.name);
        assert.equal(createHash("sha256").update(s.data).digest("hex"), s.h.name);
      }
    }
  });

  it("tells the backend a SHA-256-named pack's name as its SHA-256", async () => {
    const { backend, saver } = await saverOver(true, "sha256");
    backend.release();
    await saver.addBlob("data", randomBytes(600));
    await saver.flush();
    const pack = backend.saves.find((s) => s.h.type === "data");
    assert.ok(pack);
    assert.equal(pack.sha256, pack.h.name);
    assert.equal(pack.md5, undefined);
    assert.equal(createHash("sha256").update(pack.data).digest("hex"), pack.h.name);
  });
});
