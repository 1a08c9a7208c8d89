import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { FILE_TYPES, type Backend, type FileInfo, type FileType, type Handle } from "../../src/backend/backend.js";
import { isCofferError } from "../../src/core/errors.js";

export interface SuiteSubject {
  backend: Backend;
  cleanup(): Promise<void>;
}

/**
 * The conformance suite every driver and wrapper runs (after restic's
 * internal/backend/test/suite.go). `make` returns a fresh backend whose container does not
 * exist yet, or is empty; each case calls `create()` itself and `cleanup()` at the end.
 */
export function runBackendSuite(name: string, make: () => Promise<SuiteSubject>): void {
  /** Runs `fn` against a fresh, created backend and always cleans up. */
  const withBackend = async (fn: (b: Backend) => Promise<void>): Promise<void> => {
    const { backend, cleanup } = await make();
    try {
      await backend.create();
      await fn(backend);
    } finally {
      await backend.close();
      await cleanup();
    }
  };

  describe(`backend conformance: ${name}`, () => {
    it("saves, stats, lists, loads and removes a file of every type", () =>
      withBackend(async (b) => {
        for (const type of FILE_TYPES) {
          const h = handle(type);
          const data = randomBytes(1000 + Math.floor(Math.random() * 1000));
          await b.save(h, data);
          assert.deepEqual(await b.stat(h), { name: h.name, size: data.length }, type);
          assert.deepEqual(await b.load(h), data, type);
          assert.deepEqual(await listAll(b, type), [{ name: h.name, size: data.length }], type);
          await b.remove(h);
          await assertNotFound(b, b.stat(h), `${type} stat after remove`);
          assert.deepEqual(await listAll(b, type), [], type);
        }
      }));

    it("lists nothing for every type of a new repository", () =>
      withBackend(async (b) => {
        for (const type of FILE_TYPES) assert.deepEqual(await listAll(b, type), [], type);
      }));

    it("loads byte ranges, and refuses ranges past the end", () =>
      withBackend(async (b) => {
        const h = handle("data");
        const data = randomBytes(1000);
        await b.save(h, data);
        const ok: [number | undefined, number | undefined, number, number][] = [
          [0, 10, 0, 10],
          [undefined, 10, 0, 10],
          [0, undefined, 0, 1000],
          [0, 1000, 0, 1000],
          [990, undefined, 990, 1000],
          [10, 990, 10, 1000],
          [500, 1, 500, 501],
          [999, 1, 999, 1000],
          [1000, undefined, 1000, 1000],
          [1000, 0, 1000, 1000],
          [123, 0, 123, 123],
        ];
        for (const [offset, length, from, to] of ok) {
          const got = await b.load(h, { ...(offset !== undefined ? { offset } : {}), ...(length !== undefined ? { length } : {}) });
          assert.deepEqual(got, data.subarray(from, to), `offset ${offset} length ${length}`);
        }
        for (const [offset, length] of [[995, 10], [0, 1001], [1001, undefined], [1001, 0], [5000, 1]] as const) {
          const err = await rejection(b.load(h, { offset, ...(length !== undefined ? { length } : {}) }));
          assert.ok(!b.isNotFound(err), `offset ${offset} length ${length}: not a not-found error`);
          assert.ok(isCofferError(err, "CORRUPT"), `offset ${offset} length ${length}: ${String(err)}`);
        }
        for (const opts of [{ offset: -1 }, { offset: 0, length: -1 }, { offset: 1.5 }]) {
          assert.ok(isCofferError(await rejection(b.load(h, opts)), "INVALID"), JSON.stringify(opts));
        }
      }));

    it("reports missing files as not found, for load, ranged load, stat and remove", () =>
      withBackend(async (b) => {
        for (const type of FILE_TYPES) {
          const h = handle(type);
          await assertNotFound(b, b.load(h), `${type} load`);
          await assertNotFound(b, b.load(h, { offset: 0, length: 1 }), `${type} ranged load`);
          await assertNotFound(b, b.stat(h), `${type} stat`);
          await assertNotFound(b, b.remove(h), `${type} remove`);
        }
      }));

    it("lists exact sizes, the empty file included", () =>
      withBackend(async (b) => {
        const want: FileInfo[] = [];
        for (const size of [0, 1, 2, 255, 4096, 65537]) {
          const h = handle("index");
          await b.save(h, randomBytes(size));
          want.push({ name: h.name, size });
        }
        assert.deepEqual(await listAll(b, "index"), sorted(want));
        assert.deepEqual(await listAll(b, "snapshot"), []);
        const empty = want.find((f) => f.size === 0);
        assert.ok(empty);
        assert.equal((await b.load({ type: "index", name: empty.name })).length, 0);
      }));

    it("saves and loads a 20 MiB file", () =>
      withBackend(async (b) => {
        const h = handle("data");
        const data = randomBytes(20 * 1024 * 1024);
        await b.save(h, data);
        assert.equal((await b.stat(h)).size, data.length);
        const back = await b.load(h);
        assert.equal(sha256(back), sha256(data));
        const tail = await b.load(h, { offset: data.length - 4096 });
        assert.ok(tail.equals(data.subarray(data.length - 4096)));
      }));

    it("saves 50 files concurrently", () =>
      withBackend(async (b) => {
        const files = Array.from({ length: 50 }, () => ({ h: handle("data"), data: randomBytes(1 + Math.floor(Math.random() * 64 * 1024)) }));
        await Promise.all(files.map((f) => b.save(f.h, f.data)));
        assert.deepEqual(await listAll(b, "data"), sorted(files.map((f) => ({ name: f.h.name, size: f.data.length }))));
        const loaded = await Promise.all(files.map((f) => b.load(f.h)));
        loaded.forEach((got, i) => assert.ok(got.equals(files[i]!.data), `file ${i}`));
      }));

    it("keeps stored bytes apart from the caller's buffers", () =>
      withBackend(async (b) => {
        const h = handle("snapshot");
        const data = randomBytes(256);
        const original = Buffer.from(data);
        await b.save(h, data);
        data.fill(0);
        const first = await b.load(h);
        assert.deepEqual(first, original, "mutating the saved buffer changed the stored file");
        first.fill(1);
        assert.deepEqual(await b.load(h), original, "mutating a loaded buffer changed the stored file");
        const part = await b.load(h, { offset: 10, length: 20 });
        part.fill(2);
        assert.deepEqual(await b.load(h), original, "mutating a ranged load changed the stored file");
      }));

    it("stores only the bytes of a view into a larger buffer", () =>
      withBackend(async (b) => {
        const h = handle("key");
        const whole = randomBytes(300);
        const view = new Uint8Array(whole.buffer, whole.byteOffset + 100, 50);
        await b.save(h, view);
        assert.deepEqual(await b.load(h), whole.subarray(100, 150));
      }));

    it("replaces a file when atomicReplace is true, and refuses otherwise", () =>
      withBackend(async (b) => {
        const h = handle("lock");
        await b.save(h, Buffer.from("first"));
        if (b.properties.atomicReplace) {
          await b.save(h, Buffer.from("second, longer"));
          assert.equal((await b.load(h)).toString(), "second, longer");
          assert.deepEqual(await listAll(b, "lock"), [{ name: h.name, size: 14 }]);
        } else {
          await assert.rejects(b.save(h, Buffer.from("second")));
          assert.equal((await b.load(h)).toString(), "first");
        }
      }));

    it("saves again after a remove", () =>
      withBackend(async (b) => {
        const h = handle("data");
        await b.save(h, Buffer.from("one"));
        await b.remove(h);
        await b.save(h, Buffer.from("two"));
        assert.equal((await b.load(h)).toString(), "two");
      }));

    it("fails to create over an existing config with REPO_EXISTS, and not before", () =>
      withBackend(async (b) => {
        await b.create(); // no config yet: creating again is harmless
        await b.save({ type: "config", name: "" }, Buffer.from("{}"));
        const err = await rejection(b.create());
        assert.ok(isCofferError(err, "REPO_EXISTS"), String(err));
        assert.ok(b.isPermanent(err));
        assert.equal((await b.load({ type: "config", name: "" })).toString(), "{}");
      }));

    it("refuses invalid names with INVALID, a permanent error", () =>
      withBackend(async (b) => {
        const bad: Handle[] = [
          { type: "config", name: "x" },
          { type: "index", name: "" },
          { type: "index", name: "../config" },
          { type: "snapshot", name: "a/b" },
          { type: "lock", name: ".tmp-123" },
          { type: "key", name: ".." },
          { type: "data", name: "zz" + "0".repeat(62) },
          { type: "data", name: "a" },
        ];
        for (const h of bad) {
          const errs = await Promise.all([b.save(h, Buffer.from("x")), b.load(h), b.stat(h), b.remove(h)].map(rejection));
          for (const err of errs) {
            assert.ok(isCofferError(err, "INVALID"), `${JSON.stringify(h)}: ${String(err)}`);
            assert.ok(b.isPermanent(err) && !b.isNotFound(err));
          }
        }
      }));

    it("lists while files are saved and removed", () =>
      withBackend(async (b) => {
        const hs = Array.from({ length: 10 }, () => handle("snapshot"));
        for (const h of hs) await b.save(h, Buffer.from(h.name));
        const seen: string[] = [];
        for await (const f of b.list("snapshot")) {
          seen.push(f.name);
          await b.save(handle("snapshot"), Buffer.from("new"));
        }
        for (const h of hs) assert.ok(seen.includes(h.name));
        const early = b.list("snapshot")[Symbol.asyncIterator]();
        assert.equal((await early.next()).done, false);
        await early.return?.();
      }));
  });
}

export function handle(type: FileType): Handle {
  return { type, name: type === "config" ? "" : randomBytes(32).toString("hex") };
}

export async function listAll(b: Backend, type: FileType): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const f of b.list(type)) out.push(f);
  return sorted(out);
}

function sorted(files: FileInfo[]): FileInfo[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The error `p` rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

async function assertNotFound(b: Backend, p: Promise<unknown>, what: string): Promise<void> {
  const err = await rejection(p);
  assert.ok(b.isNotFound(err), `${what}: not a not-found error: ${String(err)}`);
  assert.ok(b.isPermanent(err), `${what}: not found must be permanent`);
  assert.ok(isCofferError(err, "NOT_FOUND"), `${what}: ${String(err)}`);
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}
