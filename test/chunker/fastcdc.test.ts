import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash } from "node:crypto";
import { FastCdc, DEFAULT_CHUNKER, chunkLengths, gearTable } from "../../src/chunker/index.js";
import type { ChunkerParams } from "../../src/chunker/index.js";
import { CofferError } from "../../src/core/errors.js";
import { loadAddon } from "../../src/core/native-addon.js";

const MiB = 1024 * 1024;
const DEF: ChunkerParams = { ...DEFAULT_CHUNKER, seed: 0x0123456789abcdefn };
const SMALL: ChunkerParams = { min: 256, avg: 1024, max: 8192, seed: 42n };

/** Deterministic pseudo-random bytes (AES-256-CTR keystream keyed by `label`). */
function pseudoRandom(size: number, label: string): Buffer {
  const key = createHash("sha256").update(label).digest();
  const c = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

/** Independent, plain re-implementation of the documented gear table derivation. */
function refGear(seed: bigint): Uint32Array {
  const t = new Uint32Array(256);
  for (let c = 0; c < 32; c++) {
    const msg = Buffer.alloc(11 + 8 + 4);
    msg.write("coffer-gear", 0, "ascii");
    msg.writeBigUInt64BE(seed, 11);
    msg.writeUInt32BE(c, 19);
    const d = createHash("sha256").update(msg).digest();
    for (let j = 0; j < 8; j++) t[c * 8 + j] = d.readUInt32BE(j * 4);
  }
  return t;
}

/** Independent, plain, byte-at-a-time re-implementation of the documented algorithm. */
function refChunkLengths(buf: Uint8Array, p: ChunkerParams): number[] {
  const gear = refGear(p.seed);
  const bits = Math.log2(p.avg);
  const maskS = Number((0xffffffffn << BigInt(32 - (bits + 2))) & 0xffffffffn);
  const maskL = Number((0xffffffffn << BigInt(32 - (bits - 2))) & 0xffffffffn);
  const out: number[] = [];
  let s = 0;
  while (s < buf.length) {
    const n = buf.length - s;
    let len = Math.min(n, p.max);
    if (n > p.min) {
      let h = 0;
      for (let k = p.min; k < Math.min(n, p.max); k++) {
        h = (h * 2 + gear[buf[s + k]!]!) % 2 ** 32;
        const mask = k < p.avg ? maskS : maskL;
        if ((h & mask) === 0) {
          len = k + 1;
          break;
        }
      }
    }
    out.push(len);
    s += len;
  }
  return out;
}

/** Chunk boundaries (end offsets) from lengths. */
function ends(lengths: number[]): number[] {
  const out: number[] = [];
  let pos = 0;
  for (const l of lengths) out.push((pos += l));
  return out;
}

/** Streams `data` through `cut` in pieces of the given sizes, the way a file reader would. */
function streamLengths(data: Uint8Array, params: ChunkerParams, pieceSize: () => number): number[] {
  const c = new FastCdc(params);
  const out: number[] = [];
  let buf = new Uint8Array(0);
  let pos = 0; // start of the next chunk in buf
  let fed = 0;
  while (true) {
    const eof = fed >= data.length;
    for (;;) {
      const len = c.cut(buf, pos, buf.length, eof);
      if (len === 0) break;
      assert.ok(len <= params.max && len <= buf.length - pos);
      out.push(len);
      pos += len;
    }
    if (eof) break;
    const k = Math.min(Math.max(1, pieceSize()), data.length - fed);
    // Drop consumed bytes, then append the next piece (at an arbitrary byte offset in the buffer).
    const rest = buf.subarray(pos);
    const next = new Uint8Array(rest.length + k);
    next.set(rest, 0);
    next.set(data.subarray(fed, fed + k), rest.length);
    buf = next;
    pos = 0;
    fed += k;
  }
  assert.equal(pos, buf.length);
  return out;
}

/** Small deterministic PRNG for piece sizes and offsets. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("gearTable: 256 values, deterministic, as documented, seed-dependent", () => {
  const a = gearTable(7n);
  assert.ok(a instanceof Uint32Array);
  assert.equal(a.length, 256);
  assert.deepEqual(a, gearTable(7n));
  assert.deepEqual(a, refGear(7n));
  assert.deepEqual(gearTable(2n ** 64n - 1n), refGear(2n ** 64n - 1n));
  const b = gearTable(8n);
  let same = 0;
  for (let k = 0; k < 256; k++) if (a[k] === b[k]) same++;
  assert.ok(same < 4);
  // Values are spread: no duplicates to speak of, both halves of the range used.
  assert.ok(new Set(a).size >= 250);
  assert.ok(a.some((v) => v >= 2 ** 31) && a.some((v) => v < 2 ** 31));
  // Pinned: the table is part of the repository format.
  assert.deepEqual(Array.from(gearTable(0n).subarray(0, 4)), [0xebdf47b3, 0x59d12cea, 0x21fff8df, 0xbad7699f]);
  assert.deepEqual(Array.from(gearTable(2n ** 64n - 1n).subarray(252)), [0x395995da, 0xb6af14cb, 0x4eb072be, 0x17d607de]);
});

test("gearTable: rejects seeds outside [0, 2^64)", () => {
  for (const bad of [-1n, 2n ** 64n, 5 as unknown as bigint]) {
    assert.throws(() => gearTable(bad), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  }
});

// Both implementations of the cut search: the native addon's (used when it is built) and the
// JavaScript loop (the fallback). Each must give the reference's boundaries.
const MODES = [
  { name: "native", opts: {} },
  { name: "JavaScript", opts: { native: false } },
] as const;

for (const { name, opts } of MODES) {
  test(`matches a plain reference implementation byte for byte (${name})`, () => {
    const data = pseudoRandom(3 * MiB, "ref-small");
    const expect = refChunkLengths(data, SMALL);
    assert.ok(expect.length > 500);
    // Different byte offsets (word alignment) and array kinds give the same result.
    for (let off = 0; off < 5; off++) {
      const backing = new Uint8Array(data.length + 8);
      backing.set(data, off);
      const view = backing.subarray(off, off + data.length);
      assert.deepEqual(chunkLengths(view, SMALL, opts), expect, `offset ${off}`);
      assert.deepEqual(chunkLengths(Buffer.from(view.buffer, view.byteOffset, view.length), SMALL, opts), expect, `Buffer offset ${off}`);
    }
    // Default parameters on a few chunks' worth of data.
    const big = pseudoRandom(12 * MiB, "ref-default");
    assert.deepEqual(chunkLengths(big, DEF, opts), refChunkLengths(big, DEF));
    // Data that never cuts (all zero bytes hash to a fixed pattern) ends at max.
    const zeros = new Uint8Array(3 * 8192 + 100);
    assert.deepEqual(chunkLengths(zeros, SMALL, opts), refChunkLengths(zeros, SMALL));
    // Pinned boundaries, and a seed whose gear table has values with the top bit set.
    assert.deepEqual(chunkLengths(pseudoRandom(64 * 1024, "pinned"), { min: 512, avg: 2048, max: 16384, seed: 1n }, opts), PINNED_LENGTHS);
    const high = { ...SMALL, seed: 0xffffffffffffffffn };
    assert.deepEqual(chunkLengths(data, high, opts), refChunkLengths(data, high));
  });
}

test("the native cut search is used when the addon is built, and rejects bad arguments", () => {
  const cut = loadAddon()?.["cdcCut"] as ((...a: unknown[]) => number) | undefined;
  // CI builds the addon; where it is missing, the JavaScript loop serves (tested above).
  if (loadAddon() === undefined) return;
  assert.equal(typeof cut, "function");
  assert.equal(new FastCdc(SMALL).native, true);
  assert.equal(new FastCdc(SMALL, { native: false }).native, false);
  const gear = new Int32Array(256);
  const buf = new Uint8Array(1024);
  assert.throws(() => cut!(buf, gear, 0, 10, 20), /eight arguments/);
  assert.throws(() => cut!("x", gear, 0, 10, 20, 30, 1, 1), /buf must be a Uint8Array/);
  assert.throws(() => cut!(buf, new Int32Array(255), 0, 10, 20, 30, 1, 1), /gear must be 256/);
  assert.throws(() => cut!(buf, gear, 1000, 10, 20, 30, 1, 1), /not inside the buffer/);
  assert.throws(() => cut!(buf, gear, 0, 20, 10, 30, 1, 1), /not inside the buffer/);
  // All-zero gear and data: the hash stays 0, so the first byte hashed is a cut.
  assert.equal(cut!(buf, gear, 0, 10, 20, 30, 0xffffffff, 0xffffffff), 11);
});

test("pinned boundaries (the chunking is part of the repository format)", () => {
  const data = pseudoRandom(64 * 1024, "pinned");
  const lengths = chunkLengths(data, { min: 512, avg: 2048, max: 16384, seed: 1n });
  assert.equal(lengths.reduce((a, b) => a + b, 0), data.length);
  assert.deepEqual(lengths, PINNED_LENGTHS);
});

test("determinism: same seed gives the same boundaries, another seed other ones", () => {
  const data = pseudoRandom(24 * MiB, "determinism");
  const a = chunkLengths(data, DEF);
  assert.deepEqual(chunkLengths(data, DEF), a);
  assert.deepEqual(chunkLengths(Buffer.from(data), { ...DEF }), a);
  const b = chunkLengths(data, { ...DEF, seed: DEF.seed + 1n });
  assert.notDeepEqual(b, a);
  const ea = new Set(ends(a));
  const shared = ends(b).filter((e) => ea.has(e) && e !== data.length).length;
  assert.ok(shared <= 1, `${shared} shared boundaries between seeds`);
});

test("every chunk is within [min, max] except the last", () => {
  for (const [p, size, label] of [
    [DEF, 40 * MiB, "bounds-default"],
    [SMALL, 2 * MiB, "bounds-small"],
  ] as const) {
    const data = pseudoRandom(size, label);
    const lengths = chunkLengths(data, p);
    assert.equal(
      lengths.reduce((a, b) => a + b, 0),
      data.length,
    );
    lengths.forEach((l, k) => {
      assert.ok(l <= p.max, `chunk ${k}: ${l} > max`);
      if (k < lengths.length - 1) assert.ok(l >= p.min, `chunk ${k}: ${l} < min`);
      else assert.ok(l > 0);
    });
  }
  // Low-entropy data hits max.
  const zeros = new Uint8Array(20 * MiB);
  const z = chunkLengths(zeros, DEF);
  assert.ok(z.every((l, k) => l === DEF.max || k === z.length - 1));
});

test("boundaries are content-defined: an insert near the start shifts later boundaries", () => {
  const data = pseudoRandom(20 * MiB, "insert");
  const before = ends(chunkLengths(data, DEF));
  for (const [at, ins] of [
    [1000, 7],
    [300_000, 1],
    [2_000_000, 4096],
  ] as const) {
    const edited = Buffer.concat([data.subarray(0, at), pseudoRandom(ins, `ins-${at}`), data.subarray(at)]);
    const after = new Set(ends(chunkLengths(edited, DEF)).map((e) => (e > at ? e - ins : e)));
    const later = before.filter((e) => e > at + DEF.max);
    const kept = later.filter((e) => after.has(e)).length;
    assert.ok(later.length > 10);
    assert.ok(kept >= later.length - 1, `insert of ${ins} at ${at}: ${kept} of ${later.length} later boundaries kept`);
    // Boundaries before the edit are untouched.
    for (const e of before.filter((e) => e <= at)) assert.ok(after.has(e));
  }
  // A deletion, too.
  const cutAt = 123_456;
  const deleted = Buffer.concat([data.subarray(0, cutAt), data.subarray(cutAt + 999)]);
  const afterDel = new Set(ends(chunkLengths(deleted, DEF)).map((e) => (e > cutAt ? e + 999 : e)));
  const later = before.filter((e) => e > cutAt + DEF.max);
  assert.ok(later.filter((e) => afterDel.has(e)).length >= later.length - 1);
});

test("streaming: feeding pieces through cut gives the same lengths as chunkLengths", () => {
  const data = pseudoRandom(24 * MiB, "stream");
  const whole = chunkLengths(data, DEF);
  const r = rng(1);
  // Pieces from a few bytes to a few MiB.
  assert.deepEqual(
    streamLengths(data, DEF, () => (r() < 0.2 ? Math.floor(r() * 5000) : Math.floor(r() * 3 * MiB))),
    whole,
  );
  // Fixed 64 KiB reads.
  assert.deepEqual(
    streamLengths(data, DEF, () => 64 * 1024),
    whole,
  );
  // Tiny pieces with small parameters.
  const small = pseudoRandom(300_000, "stream-small");
  const r2 = rng(2);
  assert.deepEqual(
    streamLengths(small, SMALL, () => Math.floor(r2() * 300)),
    chunkLengths(small, SMALL),
  );
  assert.deepEqual(
    streamLengths(small, SMALL, () => 1),
    chunkLengths(small, SMALL),
  );
});

test("cut: need-more-data, eof and range rules", () => {
  const c = new FastCdc(SMALL);
  const zeros = new Uint8Array(20_000);
  assert.equal(c.cut(zeros, 0, 0, false), 0);
  assert.equal(c.cut(zeros, 0, 0, true), 0);
  assert.equal(c.cut(zeros, 5, 5, true), 0);
  assert.equal(c.cut(zeros, 0, 100, false), 0); // < min, not eof: need more
  assert.equal(c.cut(zeros, 0, 100, true), 100); // < min at eof: the rest
  assert.equal(c.cut(zeros, 0, 256, true), 256);
  assert.equal(c.cut(zeros, 0, 5000, false), 0); // no cut (zeros) and < max: need more
  assert.equal(c.cut(zeros, 0, 5000, true), 5000);
  assert.equal(c.cut(zeros, 0, 8192, false), 8192); // max reached
  assert.equal(c.cut(zeros, 100, 20_000, false), 8192);
  assert.equal(c.cut(zeros, 100, 20_000, true), 8192);
  // A cut found in partial data is final: more data does not change it.
  const data = pseudoRandom(50_000, "partial");
  const first = chunkLengths(data, SMALL)[0]!;
  assert.ok(first < 8192);
  assert.equal(c.cut(data, 0, first, false), first);
  assert.equal(c.cut(data, 0, first - 1, false), 0);
  assert.equal(c.cut(data, 0, first + 1, false), first);
  for (const [s, e] of [
    [-1, 10],
    [10, 5],
    [0, 20_001],
    [0.5, 10],
    [0, Number.NaN],
  ]) {
    assert.throws(() => c.cut(zeros, s!, e!, true), CofferError);
  }
});

test("average chunk size is within ±25% of avg on 64 MiB of random data", () => {
  const data = pseudoRandom(64 * MiB, "average");
  const lengths = chunkLengths(data, DEF);
  const mean = data.length / lengths.length;
  assert.ok(mean >= 0.75 * DEF.avg && mean <= 1.25 * DEF.avg, `mean ${Math.round(mean / 1024)} KiB`);
  const small = pseudoRandom(8 * MiB, "average-small");
  const sm = small.length / chunkLengths(small, SMALL).length;
  assert.ok(sm >= 0.75 * SMALL.avg && sm <= 1.25 * SMALL.avg, `small mean ${Math.round(sm)}`);
});

test("small inputs: below min is one chunk, empty is none", () => {
  assert.deepEqual(chunkLengths(new Uint8Array(0), DEF), []);
  assert.deepEqual(chunkLengths(new Uint8Array(1), DEF), [1]);
  assert.deepEqual(chunkLengths(pseudoRandom(DEF.min - 1, "s1"), DEF), [DEF.min - 1]);
  assert.deepEqual(chunkLengths(pseudoRandom(DEF.min, "s2"), DEF), [DEF.min]);
  const justOver = chunkLengths(pseudoRandom(DEF.min + 10, "s3"), DEF);
  assert.equal(justOver.reduce((a, b) => a + b, 0), DEF.min + 10);
  assert.ok(justOver.length <= 2 && justOver[0]! > DEF.min);
});

test("parameter validation", () => {
  const ok = (p: Partial<ChunkerParams>) => new FastCdc({ ...DEF, ...p });
  ok({});
  ok({ min: 0, avg: 8, max: 9 });
  const bad: Partial<ChunkerParams>[] = [
    { min: MiB }, // min == avg
    { min: 2 * MiB }, // min > avg
    { max: MiB }, // max == avg
    { max: MiB - 1 },
    { avg: 1000 * 1000 }, // not a power of two
    { avg: 3 * MiB },
    { min: -1 },
    { min: 1.5 },
    { avg: Number.NaN },
    { max: Infinity },
    { max: 2 ** 31 }, // too large
    { min: 1, avg: 4, max: 8 }, // avg below 8
    { min: "512" as unknown as number },
    { seed: -1n },
    { seed: 2n ** 64n },
    { seed: 1 as unknown as bigint },
  ];
  for (const p of bad) {
    assert.throws(
      () => ok(p),
      (e: unknown) => e instanceof Error && e instanceof CofferError && e.code === "INVALID",
      JSON.stringify(p, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)),
    );
  }
  assert.throws(() => new FastCdc(null as unknown as ChunkerParams), CofferError);
  assert.deepEqual(DEFAULT_CHUNKER, { min: 512 * 1024, avg: MiB, max: 8 * MiB });
  assert.ok(Object.isFrozen(DEFAULT_CHUNKER));
});

// Pinned values (computed once from the implementation after it matched the reference above).
const PINNED_LENGTHS = [
  2199, 2104, 2983, 2800, 2025, 3226, 2867, 2821, 2954, 2658, 544, 3051, 2055, 1198, 2119, 2052, 2411, 2184, 2492, 2945, 1945, 2769,
  2237, 2223, 2615, 2288, 2314, 1457,
];
