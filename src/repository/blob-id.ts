import { createHmac } from "node:crypto";
import { createRequire } from "node:module";

/**
 * How a repository names its blobs: a keyed hash of the plaintext, the key being the config's
 * `id_key`. `blake3` (keyed BLAKE3, the default for new repositories) runs at several GB/s
 * with SIMD; `hmac-sha256` (HMAC-SHA256, what repositories made before it use) at a few
 * hundred MB/s on CPUs without SHA extensions. Both give 32 bytes; see docs/format.md.
 */
export type IdHash = "hmac-sha256" | "blake3";

export const ID_HASHES: readonly IdHash[] = ["hmac-sha256", "blake3"];

/** The repository's blob naming: which hash, and its 32-byte key. Plain data: it crosses to workers. */
export interface IdKey {
  readonly hash: IdHash;
  readonly key: Uint8Array;
}

/** An incremental blob id, for plaintext that arrives in pieces; `digest` ends it. */
export interface IdHasher {
  update(piece: Uint8Array): void;
  digest(): Buffer;
}

export interface NativeHasher {
  update(p: Uint8Array): unknown;
  digestBuffer(): Buffer;
  /** Back to the state after newKeyed: the same key, no input. */
  reset(): void;
}

export interface NativeBlake3 {
  Blake3Hasher: { new (): NativeHasher; newKeyed(key: Buffer): NativeHasher };
}

/**
 * Native hashers kept for reuse, per key. A native hasher is about 2 KB outside V8's heap
 * that V8 does not count, so one per blob piled up until a full collection: 55 MB more in an
 * unchanged backup of the benchmark, which hashes 21,000 trees.
 */
const idle = new WeakMap<Uint8Array, NativeHasher[]>();
const IDLE_MAX = 4;

function takeHasher(n: NativeBlake3, key: Uint8Array): NativeHasher {
  return idle.get(key)?.pop() ?? n.Blake3Hasher.newKeyed(asBuffer(key));
}

function giveHasher(key: Uint8Array, h: NativeHasher): void {
  h.reset();
  let list = idle.get(key);
  if (!list) idle.set(key, (list = []));
  if (list.length < IDLE_MAX) list.push(h);
}

export interface JsBlake3 {
  create(opts: { key?: Uint8Array }): { update(p: Uint8Array): unknown; digest(): Uint8Array };
}

const require = createRequire(import.meta.url);
let native: NativeBlake3 | null | undefined;
let js: JsBlake3 | undefined;
/** @noble/hashes' BLAKE3, loaded only where the native one is missing (its CommonJS build, so synchronously). */
export function jsBlake3(): JsBlake3 {
  return (js ??= (require("@noble/hashes/blake3") as { blake3: JsBlake3 }).blake3);
}
/**
 * The builds of @napi-rs/blake-hash (SIMD BLAKE3) coffer depends on, as optional dependencies
 * of their own: the package that picks one for the platform lists every platform's build,
 * and `npm ci` refuses a lock file without them all, which a registry mirror holding only some
 * cannot give. Elsewhere new repositories use HMAC-SHA256 (see defaultIdHash).
 */
const NATIVE_BUILDS = process.platform === "linux" && process.arch === "x64" ? ["@napi-rs/blake-hash-linux-x64-gnu", "@napi-rs/blake-hash-linux-x64-musl"] : [];

/**
 * The native BLAKE3, when one loads here; null otherwise, and with COFFER_NATIVE=0 (as for
 * coffer's own addon), so the pure-JS path can be tested.
 */
export function nativeBlake3(): NativeBlake3 | null {
  if (native === undefined) {
    native = null;
    if (process.env.COFFER_NATIVE === "0") return native;
    for (const name of NATIVE_BUILDS) {
      try {
        native = require(name) as NativeBlake3;
        break;
      } catch {
        // not installed, or built for the other C library
      }
    }
  }
  return native;
}

/**
 * The hash new repositories use: BLAKE3 where its native build loads (Linux on x64),
 * HMAC-SHA256 elsewhere. A BLAKE3 repository still opens without
 * the native build, through a pure-JS BLAKE3 that is correct but about 100 times slower.
 */
export function defaultIdHash(): IdHash {
  return nativeBlake3() ? "blake3" : "hmac-sha256";
}

/** An IdKey rebuilt after crossing a thread (structured clone turns a Buffer into a Uint8Array). */
export function idKeyOf(k: IdKey): IdKey {
  return { hash: k.hash, key: asBuffer(k.key) };
}

/** The id of one blob's plaintext. */
export function blobId(k: IdKey, plain: Uint8Array): Buffer {
  const h = idHasher(k);
  h.update(plain);
  return h.digest();
}

/** An incremental form of `blobId`: the same id for the same bytes, however they are split. */
export function idHasher(k: IdKey): IdHasher {
  if (k.hash === "hmac-sha256") {
    const h = createHmac("sha256", k.key);
    return { update: (p) => void h.update(p), digest: () => h.digest() };
  }
  const n = nativeBlake3();
  if (n) {
    let h: NativeHasher | undefined = takeHasher(n, k.key);
    const live = (): NativeHasher => h ?? fail();
    return {
      update: (p) => void live().update(p),
      digest: () => {
        const id = live().digestBuffer();
        giveHasher(k.key, live());
        h = undefined;
        return id;
      },
    };
  }
  // A copy of the key: @noble/hashes wipes the key it is given once it has hashed.
  const h = jsBlake3().create({ key: Uint8Array.from(k.key) });
  return { update: (p) => void h.update(p), digest: () => Buffer.from(h.digest()) };
}

function fail(): never {
  throw new Error("an IdHasher was used after its digest");
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
