import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend, FileInfo, FileType, Handle, LoadOptions, SaveOptions } from "../../src/backend/backend.js";
import { DelegatingBackend } from "../../src/backend/delegating-backend.js";
import { LimitBackend } from "../../src/backend/limit.js";
import { LocalBackend } from "../../src/backend/local.js";
import { MemoryBackend } from "../../src/backend/memory.js";
import { wrapBackend } from "../../src/backend/open.js";
import { RetryBackend, type RetryInfo } from "../../src/backend/retry.js";
import { isCofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { FaultyBackend } from "../helpers/faulty-backend.js";
import { handle, listAll, rejection, runBackendSuite } from "./suite.js";

const noSleep = async (): Promise<void> => {};

runBackendSuite("retry + limit over memory", async () => ({ backend: wrapBackend(new MemoryBackend(), { retry: { sleep: noSleep } }), cleanup: async () => {} }));
runBackendSuite("faulty over memory, no faults armed", async () => ({ backend: new FaultyBackend(new MemoryBackend()), cleanup: async () => {} }));

/** Retries into `log`, with no real waiting. */
function retrying(inner: Backend, attempts = 5): { b: RetryBackend; log: RetryInfo[] } {
  const log: RetryInfo[] = [];
  return { b: new RetryBackend(inner, { attempts, sleep: noSleep, onRetry: (i) => log.push(i) }), log };
}

describe("RetryBackend", () => {
  it("retries transient errors until the request succeeds", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "save", nth: 1, times: 2 }] });
    const { b, log } = retrying(faulty);
    const h = handle("data");
    await b.save(h, Buffer.from("pack"));
    assert.equal(faulty.calls.save, 3);
    assert.deepEqual(
      log.map((i) => [i.op, i.handle, i.attempt]),
      [
        ["save", h, 1],
        ["save", h, 2],
      ],
    );
    assert.ok(log.every((i) => isCofferError(i.error, "IO") && i.delayMs > 0));
    assert.equal((await b.load(h)).toString(), "pack");
  });

  it("does not retry permanent errors: not found, no space, invalid names", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { spaceBytes: 0 });
    const { b, log } = retrying(faulty);
    assert.ok(b.isNotFound(await rejection(b.load(handle("index")))));
    assert.equal(faulty.calls.load, 1);
    assert.ok(isCofferError(await rejection(b.save(handle("index"), Buffer.from("x"))), "NO_SPACE"));
    assert.equal(faulty.calls.save, 1);
    assert.ok(isCofferError(await rejection(b.stat({ type: "index", name: "../x" })), "INVALID"));
    assert.equal(faulty.calls.stat, 1);
    assert.deepEqual(log, []);
  });

  it("gives up after the configured attempts with the last error", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "stat", nth: 1, times: Infinity }] });
    const { b, log } = retrying(faulty, 3);
    assert.ok(isCofferError(await rejection(b.stat(handle("lock"))), "IO"));
    assert.equal(faulty.calls.stat, 3);
    assert.deepEqual(
      log.map((i) => i.attempt),
      [1, 2],
    );
  });

  it("backs off exponentially, with jitter between 50 % and 150 %, capped", () => {
    const at = (r: number) => new RetryBackend(new MemoryBackend(), { initialDelayMs: 100, maxDelayMs: 1000, random: () => r });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => at(0.5).delayFor(n)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 3].map((n) => at(0).delayFor(n)), [50, 100, 200]);
    assert.deepEqual([1, 2, 4].map((n) => at(0.999).delayFor(n)), [150, 300, 1000]);
  });

  it("waits the delays it reports", async () => {
    const slept: number[] = [];
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "remove", nth: 1, times: 2 }] });
    const reported: number[] = [];
    const b = new RetryBackend(faulty, { initialDelayMs: 10, random: () => 0.5, sleep: async (ms) => void slept.push(ms), onRetry: (i) => reported.push(i.delayMs) });
    const h = handle("snapshot");
    await faulty.inner.save(h, Buffer.from("s"));
    await b.remove(h);
    assert.deepEqual(slept, [10, 20]);
    assert.deepEqual(reported, slept);
  });

  it("ignores an onRetry callback that throws", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "create", nth: 1 }] });
    const b = new RetryBackend(faulty, {
      sleep: noSleep,
      onRetry: () => {
        throw new Error("logger broke");
      },
    });
    await b.create();
    assert.equal(faulty.calls.create, 2);
  });

  it("restarts a failed listing without yielding a name twice", async () => {
    const inner = new FlakyListBackend(2);
    const hs = Array.from({ length: 5 }, () => handle("snapshot"));
    for (const h of hs) await inner.save(h, Buffer.from(h.name));
    const { b, log } = retrying(inner);
    const names: string[] = [];
    for await (const f of b.list("snapshot")) names.push(f.name);
    assert.deepEqual([...names].sort(), hs.map((h) => h.name).sort());
    assert.equal(inner.listings, 2);
    assert.deepEqual(
      log.map((i) => [i.op, i.attempt]),
      [["list", 1]],
    );
  });

  it("does not retry a listing that fails permanently", async () => {
    const inner = new FlakyListBackend(0, true);
    const { b, log } = retrying(inner);
    await inner.save(handle("key"), Buffer.from("k"));
    assert.ok(b.isNotFound(await rejection(listAll(b, "key"))));
    assert.equal(inner.listings, 1);
    assert.deepEqual(log, []);
  });
});

describe("LimitBackend", () => {
  it("never has more than N requests in flight, and reaches N", async () => {
    const slow = new CountingBackend(new MemoryBackend());
    const b = new LimitBackend(slow, 3);
    assert.equal(b.properties.connections, 3);
    const hs = Array.from({ length: 30 }, () => handle("data"));
    await Promise.all(hs.map((h) => b.save(h, Buffer.from(h.name))));
    await Promise.all([...hs.map((h) => b.load(h)), ...hs.map((h) => b.stat(h)), listAll(b, "data"), listAll(b, "data")]);
    await Promise.all(hs.map((h) => b.remove(h)));
    assert.equal(slow.max, 3);
    assert.equal(slow.inFlight, 0);
  });

  it("defaults to the inner backend's connections", () => {
    assert.equal(new LimitBackend(new MemoryBackend()).properties.connections, 8);
    assert.equal(new LimitBackend(new MemoryBackend(), 0).properties.connections, 1);
  });

  it("does not deadlock when a caller loads each file inside a listing, with one slot", async () => {
    const b = new LimitBackend(new CountingBackend(new MemoryBackend()), 1);
    const hs = Array.from({ length: 5 }, () => handle("index"));
    for (const h of hs) await b.save(h, Buffer.from(h.name));
    const loaded: string[] = [];
    for await (const f of b.list("index")) loaded.push((await b.load({ type: "index", name: f.name })).toString());
    assert.deepEqual(loaded.sort(), hs.map((h) => h.name).sort());
  });

  it("gives the slot back when a request fails", async () => {
    const b = new LimitBackend(new MemoryBackend(), 1);
    await rejection(b.load(handle("data")));
    await rejection(b.stat(handle("data")));
    const h = handle("data");
    await b.save(h, Buffer.from("ok"));
    assert.equal((await b.load(h)).toString(), "ok");
  });
});

describe("wrapBackend", () => {
  it("stacks retry outside limit, so a request waiting to be retried holds no slot", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "save", nth: 1 }] });
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    let retried!: () => void;
    const waiting = new Promise<void>((res) => (retried = res));
    const b = wrapBackend(faulty, { connections: 1, retry: { sleep: () => gate, onRetry: () => retried() } });
    const h = handle("data");
    const saving = b.save(h, Buffer.from("pack"));
    await waiting;
    const other = handle("lock");
    await faulty.inner.save(other, Buffer.from("lock"));
    assert.equal((await b.load(other)).toString(), "lock"); // would hang if the wait held the slot
    release();
    await saving;
    assert.equal((await b.load(h)).toString(), "pack");
  });

  it("reports each retry as a RETRY warning with the next attempt's number, and none for the request that succeeds", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "save", nth: 1, times: 3 }] });
    const warnings: Warning[] = [];
    const infos: RetryInfo[] = [];
    const b = wrapBackend(faulty, { retry: { attempts: 6, sleep: noSleep, random: () => 0.5, onRetry: (i) => infos.push(i) }, onWarning: (w) => warnings.push(w) });
    const h = handle("data");
    await b.save(h, Buffer.from("pack"));
    assert.equal(faulty.calls.save, 4);
    assert.equal(infos.length, 3, "the caller's own onRetry is still called");
    assert.deepEqual(
      warnings.map((w) => w.code),
      ["RETRY", "RETRY", "RETRY"],
    );
    const path = `data/${h.name.slice(0, 2)}/${h.name.slice(0, 10)}…`;
    assert.deepEqual(
      warnings.map((w) => w.message),
      [
        `${faulty.location}: save ${path} failed (EIO); retrying in 0.5 s (attempt 2 of 6)`,
        `${faulty.location}: save ${path} failed (EIO); retrying in 1.0 s (attempt 3 of 6)`,
        `${faulty.location}: save ${path} failed (EIO); retrying in 2.0 s (attempt 4 of 6)`,
      ],
    );
    await b.stat(h);
    assert.equal(warnings.length, 3);
  });

  it("names the listed directory in a retried list's warning, and gives no warning for the last, failed attempt", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), { calls: [{ op: "list", nth: 1, times: Infinity }] });
    const warnings: Warning[] = [];
    const b = wrapBackend(faulty, { retry: { attempts: 3, sleep: noSleep }, onWarning: (w) => warnings.push(w) });
    assert.ok(isCofferError(await rejection(listAll(b, "snapshot")), "IO"));
    assert.deepEqual(
      warnings.map((w) => /: list snapshots failed \(EIO\); retrying in [\d.]+ s \(attempt (\d) of 3\)$/.exec(w.message)?.[1]),
      ["2", "3"],
    );
  });

  it("hands on location, properties and a local repository's directory; a delegating test double hides the directory", () => {
    const local = new LocalBackend("/srv/coffer-repo");
    const wrapped = wrapBackend(local, { connections: 2 });
    assert.equal(wrapped.location, local.location);
    assert.deepEqual(wrapped.properties, { ...local.properties, connections: 2 });
    assert.equal(wrapped.localRoot?.(), local.localRoot());
    assert.ok(local.localRoot() !== undefined);
    const double = new FaultyBackend(local);
    assert.equal((double as Backend).localRoot, undefined, "workers must not write around an injected fault");
    assert.equal(wrapBackend(double).localRoot?.(), undefined);
    assert.deepEqual(new DelegatingBackend(local, { remote: true }).properties, { ...local.properties, remote: true });
  });

  it("hands a save's known SHA-256 through both wrappers to the driver, on every attempt", async () => {
    const inner = new MemoryBackend();
    const seen: (SaveOptions | undefined)[] = [];
    const save = inner.save.bind(inner);
    let failFirst = true;
    (inner as Backend).save = async (h, data, opts) => {
      seen.push(opts);
      if (failFirst) {
        failFirst = false;
        throw new Error("connection reset");
      }
      return save(h, data);
    };
    const b = wrapBackend(inner, { retry: { sleep: noSleep } });
    const h = handle("data");
    await b.save(h, Buffer.from("pack"), { sha256: h.name });
    await b.save(handle("lock"), Buffer.from("lock"));
    assert.deepEqual(seen, [{ sha256: h.name }, { sha256: h.name }, undefined]);
  });
});

/** Tracks how many requests are in flight; each takes a few milliseconds. */
class CountingBackend extends DelegatingBackend {
  inFlight = 0;
  max = 0;
  async #track<T>(fn: () => Promise<T>): Promise<T> {
    this.max = Math.max(this.max, ++this.inFlight);
    try {
      await new Promise((res) => setTimeout(res, 2));
      return await fn();
    } finally {
      this.inFlight--;
    }
  }
  override create(): Promise<void> {
    return this.#track(() => this.inner.create());
  }
  override save(h: Handle, data: Uint8Array): Promise<void> {
    return this.#track(() => this.inner.save(h, data));
  }
  override load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return this.#track(() => this.inner.load(h, opts));
  }
  override stat(h: Handle): Promise<FileInfo> {
    return this.#track(() => this.inner.stat(h));
  }
  override async *list(type: FileType): AsyncIterable<FileInfo> {
    const it = this.inner.list(type)[Symbol.asyncIterator]();
    for (;;) {
      const r = await this.#track(() => it.next());
      if (r.done) return;
      yield r.value;
    }
  }
  override remove(h: Handle): Promise<void> {
    return this.#track(() => this.inner.remove(h));
  }
}

/** A memory backend whose first listing fails after `after` entries, transiently or not. */
class FlakyListBackend extends MemoryBackend {
  listings = 0;
  constructor(
    readonly after: number,
    readonly permanent = false,
  ) {
    super();
  }
  override async *list(type: FileType): AsyncIterable<FileInfo> {
    const first = ++this.listings === 1;
    let n = 0;
    for await (const f of super.list(type)) {
      if (first && n++ === this.after) {
        throw this.permanent ? Object.assign(new Error("gone"), { code: "ENOENT" }) : Object.assign(new Error("reset"), { code: "ECONNRESET" });
      }
      yield f;
    }
  }
}
