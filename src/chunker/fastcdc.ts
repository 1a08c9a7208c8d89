import { randomBytes } from "node:crypto";
import { CofferError } from "../core/errors.js";
import { loadAddon } from "../core/native-addon.js";
import { gearTable } from "./gear.js";

/**
 * FastCDC with normalized chunking (level 2) over a 32-bit gear hash.
 *
 * For a chunk starting at s, with n bytes available:
 *   - chunks of n <= min bytes are not hashed at all (the rest of the data, at eof, is one chunk);
 *   - the first `min` bytes are skipped; hashing starts with h = 0 at byte s + min;
 *   - for each byte b, h = ((h << 1) + gear[b]) | 0 (32 bits), and the chunk ends just after the
 *     first byte whose hash has (h & mask) === 0, where mask is
 *       MASK_S (log2(avg) + 2 bits, strict) for bytes s + min .. s + avg - 1,
 *       MASK_L (log2(avg) - 2 bits, loose)  for bytes s + avg .. s + max - 1;
 *   - a chunk that finds no such byte ends at s + max.
 *
 * Masks: bit k of a gear hash depends on the last k + 1 bytes only (the low bits "forget" fast), so
 * both masks take the HIGHEST bits of the hash: a mask of n bits is bits 31 .. 32-n, i.e.
 * `(0xFFFFFFFF << (32 - n)) >>> 0`; MASK_L is therefore a subset of MASK_S. For the default
 * avg = 1 MiB (2^20): MASK_S = 0xFFFFFC00 (22 bits), MASK_L = 0xFFFFC000 (18 bits).
 * The gear table (see gear.ts), this procedure and these masks are part of the repository format.
 */
export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
  seed: bigint;
}

export const DEFAULT_CHUNKER: Omit<ChunkerParams, "seed"> = Object.freeze({
  min: 512 * 1024,
  avg: 1024 * 1024,
  max: 8 * 1024 * 1024,
});

/** Largest accepted `max` (1 GiB): offsets stay small integers in the hot loop. */
const MAX_MAX = 0x40000000;

/** Mask with the top `bits` bits set, as a signed int32 (what `h & mask` is compared in). */
function topMask(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

function validate(p: ChunkerParams): void {
  if (p === null || typeof p !== "object") {
    throw new CofferError("INVALID", "Invalid chunker parameters: expected an object { min, avg, max, seed }.");
  }
  const { min, avg, max } = p;
  const bad = (why: string): never => {
    throw new CofferError("INVALID", `Invalid chunker parameters (min ${String(min)}, avg ${String(avg)}, max ${String(max)}): ${why}.`, {
      min,
      avg,
      max,
    });
  };
  for (const [k, v] of [
    ["min", min],
    ["avg", avg],
    ["max", max],
  ] as const) {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(`${k} must be a non-negative integer`);
  }
  if (!(min < avg)) bad("min must be smaller than avg");
  if (!(avg < max)) bad("avg must be smaller than max");
  if (avg < 8 || avg > 2 ** 30 || (avg & (avg - 1)) !== 0) bad("avg must be a power of two from 8 to 2^30");
  if (max > MAX_MAX) bad(`max must be at most ${MAX_MAX}`);
  // gearTable validates the seed.
}

/** True when an Int32Array read of bytes b0..b3 gives b0 | b1 << 8 | b2 << 16 | b3 << 24. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const NO_WORDS = new Int32Array(0);
/** The gear hash at the end of the last `scan` that found no cut (a second result, without allocation). */
const carry = new Int32Array(1);

/**
 * Hashes buf[i .. stop) starting from hash `h`, and returns the index just after the first byte
 * whose hash has (h & mask) === 0, or -1 (leaving the final hash in carry[0]) if there is none.
 *
 * This is the hot loop, written for V8: int32 arithmetic and typed arrays only, no closures, no
 * bigint, always called with the same types. Bytes are read four at a time through `words`, an
 * Int32Array over the same memory with words[j] = buf[a0 + 4j .. a0 + 4j + 3] (a0 is 4-byte aligned
 * in the ArrayBuffer): 16 bytes per iteration, with one combined test. The bytes before the first
 * whole word, the 16 bytes that hold a cut and the tail go through the plain byte loop. On a
 * big-endian machine `words` is empty and every byte goes through the byte loop (same result).
 */
function scan(buf: Uint8Array, words: Int32Array, a0: number, gear: Int32Array, i: number, stop: number, h: number, mask: number): number {
  // Bytes up to the next word boundary (i - a0 a multiple of 4).
  for (; i < stop && ((i - a0) & 3) !== 0; i++) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  // Whole words that end before `stop`: words[0 .. lastWord).
  const lastWord = Math.min(words.length, (stop - a0) >> 2);
  if (i < stop && lastWord >= 4) {
    let j = (i - a0) >> 2;
    for (const lastJ = lastWord - 3; j < lastJ; j = (j + 4) | 0) {
      const w0 = words[j]!;
      const h0 = ((h << 1) + gear[w0 & 255]!) | 0;
      const h1 = ((h0 << 1) + gear[(w0 >>> 8) & 255]!) | 0;
      const h2 = ((h1 << 1) + gear[(w0 >>> 16) & 255]!) | 0;
      const h3 = ((h2 << 1) + gear[w0 >>> 24]!) | 0;
      const w1 = words[(j + 1) | 0]!;
      const h4 = ((h3 << 1) + gear[w1 & 255]!) | 0;
      const h5 = ((h4 << 1) + gear[(w1 >>> 8) & 255]!) | 0;
      const h6 = ((h5 << 1) + gear[(w1 >>> 16) & 255]!) | 0;
      const h7 = ((h6 << 1) + gear[w1 >>> 24]!) | 0;
      const w2 = words[(j + 2) | 0]!;
      const h8 = ((h7 << 1) + gear[w2 & 255]!) | 0;
      const h9 = ((h8 << 1) + gear[(w2 >>> 8) & 255]!) | 0;
      const h10 = ((h9 << 1) + gear[(w2 >>> 16) & 255]!) | 0;
      const h11 = ((h10 << 1) + gear[w2 >>> 24]!) | 0;
      const w3 = words[(j + 3) | 0]!;
      const h12 = ((h11 << 1) + gear[w3 & 255]!) | 0;
      const h13 = ((h12 << 1) + gear[(w3 >>> 8) & 255]!) | 0;
      const h14 = ((h13 << 1) + gear[(w3 >>> 16) & 255]!) | 0;
      const h15 = ((h14 << 1) + gear[w3 >>> 24]!) | 0;
      if (
        (h0 & mask) === 0 ||
        (h1 & mask) === 0 ||
        (h2 & mask) === 0 ||
        (h3 & mask) === 0 ||
        (h4 & mask) === 0 ||
        (h5 & mask) === 0 ||
        (h6 & mask) === 0 ||
        (h7 & mask) === 0 ||
        (h8 & mask) === 0 ||
        (h9 & mask) === 0 ||
        (h10 & mask) === 0 ||
        (h11 & mask) === 0 ||
        (h12 & mask) === 0 ||
        (h13 & mask) === 0 ||
        (h14 & mask) === 0 ||
        (h15 & mask) === 0
      ) {
        break;
      }
      h = h15;
    }
    i = a0 + (j << 2);
  }
  // The 16 bytes that hold the cut, or the tail.
  for (; i < stop; i++) {
    h = ((h << 1) + gear[buf[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  carry[0] = h;
  return -1;
}

/**
 * Returns the chunk length (> min) at the first cut point in buf[s + min .. s + lim), or -1 if there
 * is none. `normal` = min(avg, lim) is where the strict mask gives way to the loose one.
 */
function findCut(buf: Uint8Array, gear: Int32Array, s: number, min: number, normal: number, lim: number, maskS: number, maskL: number): number {
  const i = s + min;
  const mid = s + normal;
  const end = s + lim;
  const base = buf.byteOffset;
  const a0 = i + ((4 - ((base + i) & 3)) & 3);
  const words = LITTLE_ENDIAN && end - a0 >= 16 ? new Int32Array(buf.buffer, base + a0, (end - a0) >> 2) : NO_WORDS;
  let at = scan(buf, words, a0, gear, i, mid, 0, maskS);
  if (at >= 0) return at - s;
  at = scan(buf, words, a0, gear, mid, end, carry[0]!, maskL);
  return at >= 0 ? at - s : -1;
}

/**
 * Once per process, before the first large scan: chunk 64 KiB of random bytes with tiny
 * parameters, so V8 collects type feedback on every path of the hot loop and optimizes it as a
 * whole. Without this, V8 compiles the loop on-stack while only the word loop has run, then
 * deoptimizes several times on the paths not yet taken, and each time finishes a scan of up to
 * `max` bytes in the interpreter: the first few hundred MiB are chunked much more slowly.
 * Costs a few ms (interpreted), once.
 */
let warmedUp = false;
function warmUp(): void {
  warmedUp = true;
  const data = randomBytes(64 * 1024);
  const c = new FastCdc({ min: 32, avg: 128, max: 1024, seed: 0n }, { native: false });
  for (let pos = 0; pos < data.length; ) pos += c.cut(data, pos, data.length, true);
}

/** Scans shorter than this never trigger the warm-up (it would cost more than it saves). */
const WARM_UP_AFTER = 256 * 1024;

/** The addon's findCut (native/cdc-cut.c): the same procedure, about three times as fast. */
type NativeCut = (buf: Uint8Array, gear: Int32Array, s: number, min: number, normal: number, lim: number, maskS: number, maskL: number) => number;

function nativeCut(): NativeCut | undefined {
  return loadAddon()?.["cdcCut"] as NativeCut | undefined;
}

export interface FastCdcOptions {
  /** false: always the JavaScript loop, even when the native addon is built (tests compare both). */
  native?: boolean;
}

export class FastCdc {
  readonly min: number;
  readonly avg: number;
  readonly max: number;
  readonly seed: bigint;
  readonly #maskS: number;
  readonly #maskL: number;
  readonly #gear: Int32Array;
  readonly #native: NativeCut | undefined;

  constructor(params: ChunkerParams, opts: FastCdcOptions = {}) {
    validate(params);
    this.min = params.min;
    this.avg = params.avg;
    this.max = params.max;
    this.seed = params.seed;
    const bits = 31 - Math.clz32(params.avg);
    this.#maskS = topMask(bits + 2);
    this.#maskL = topMask(bits - 2);
    const t = gearTable(params.seed);
    this.#gear = new Int32Array(t.buffer, t.byteOffset, t.length);
    this.#native = opts.native === false ? undefined : nativeCut();
  }

  /** True when cuts are found by the native addon rather than the JavaScript loop. */
  get native(): boolean {
    return this.#native !== undefined;
  }

  /**
   * Length of the next chunk starting at buf[start], where buf[start..end) holds data.
   * If !eof and end-start < max and no cut point is found, returns 0 ("need more data").
   * If eof, always returns > 0 for a non-empty range (the rest up to max).
   * Never returns more than max or more than end-start.
   *
   * Stateless (one instance may serve any number of streams): after a 0, call again from the same
   * start with more data; the bytes already seen are hashed again, so hand it at least `max` bytes
   * (or the rest of the input with eof) per call when you can.
   */
  cut(buf: Uint8Array, start: number, end: number, eof: boolean): number {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= buf.length)) {
      throw new CofferError("INVALID", `Chunker range [${String(start)}, ${String(end)}) is not inside a buffer of ${buf.length} bytes.`);
    }
    const n = end - start;
    if (n === 0) return 0;
    const min = this.min;
    const max = this.max;
    if (n <= min) return eof ? n : 0;
    const lim = n < max ? n : max;
    const normal = this.avg < lim ? this.avg : lim;
    const len = this.#native !== undefined ? this.#native(buf, this.#gear, start, min, normal, lim, this.#maskS >>> 0, this.#maskL >>> 0) : this.#jsCut(buf, start, min, normal, lim);
    if (len > 0) return len;
    if (n >= max) return max;
    return eof ? n : 0;
  }

  #jsCut(buf: Uint8Array, start: number, min: number, normal: number, lim: number): number {
    if (!warmedUp && lim - min >= WARM_UP_AFTER) warmUp();
    // A plain Uint8Array view keeps the hot loop monomorphic whether callers pass Buffers or not.
    const view = Object.getPrototypeOf(buf) === Uint8Array.prototype ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    return findCut(view, this.#gear, start, min, normal, lim, this.#maskS, this.#maskL);
  }
}

/** Convenience for tests/tools: the chunk lengths of a whole buffer. */
export function chunkLengths(buf: Uint8Array, params: ChunkerParams, opts: FastCdcOptions = {}): number[] {
  const c = new FastCdc(params, opts);
  const out: number[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const len = c.cut(buf, pos, buf.length, true);
    out.push(len);
    pos += len;
  }
  return out;
}
