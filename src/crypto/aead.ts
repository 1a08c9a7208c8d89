import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CofferError } from "../core/errors.js";
import { loadAddon } from "../core/native-addon.js";

/** The addon's AES-256-GCM opening in pieces into one buffer (native/aead.c); see AesGcmCrypter.openPieces. */
type GcmOpenPieces = (key: Uint8Array, sealed: Uint8Array, scratch: Uint8Array, sink?: (n: number) => void) => boolean;
/** The addon's AES-256-GCM sealing in pieces into one buffer (native/aead.c); see AesGcmCrypter.sealTo. */
type GcmSealPieces = (key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, scratch: Uint8Array, sink: ((n: number) => void) | undefined, tag: Uint8Array) => void;

/** Ciphertext a native seal hands to the sink at a time (a write each, for a local pack). */
const SEAL_PIECE = 1024 * 1024;

/**
 * Seals and opens stored bytes. AES-256-GCM: a random 12-byte nonce, the ciphertext, then the
 * 16-byte tag. Mode `none` stores plaintext (ids, hashes and verification still apply).
 */
export interface Crypter {
  readonly encrypted: boolean;
  /** Bytes added by `seal`. */
  readonly overhead: number;
  seal(plain: Uint8Array): Buffer;
  /**
   * Seals `plain` as `seal` does, handing the sealed bytes to `sink` in order and in parts
   * (valid only during the call), without building them in one buffer: for writers that
   * stream them out. Returns their length (`plain.length + overhead`).
   */
  sealTo(plain: Uint8Array, sink: (part: Uint8Array) => void): number;
  /** Opens sealed bytes; throws CofferError CORRUPT (naming `what`) when authentication fails. */
  open(sealed: Uint8Array, what: string): Buffer;
  /**
   * Opens sealed bytes a piece of at most `piece` bytes at a time, so nothing the size of the
   * whole is allocated: `sink` gets each piece of plaintext in order (valid only during the
   * call, and not yet authenticated), then the whole is authenticated as `open` does.
   */
  openPieces(sealed: Uint8Array, what: string, piece: number, sink: (plain: Buffer) => void): void;
  /**
   * Opens sealed bytes where they are, for a caller whose buffer they are and who has no
   * further use for them: the plaintext is a view of `sealed`, whose ciphertext is gone (and
   * which holds garbage when authentication fails: CofferError CORRUPT, as `open`). Undefined
   * when this crypter cannot (without the native addon): use `open` or `openPieces`.
   */
  openInPlace(sealed: Uint8Array, what: string): Buffer | undefined;
}

const NONCE = 12;
const TAG = 16;

const tooShort = (what: string): CofferError => new CofferError("CORRUPT", `${what} is too short to be valid.`, { what });
const authFailed = (what: string): CofferError => new CofferError("CORRUPT", `${what} failed authentication (damaged, or written with another key).`, { what });

export class AesGcmCrypter implements Crypter {
  readonly encrypted = true;
  readonly overhead = NONCE + TAG;
  readonly #key: Buffer;
  readonly #gcm: GcmOpenPieces | undefined;
  readonly #gcmSeal: GcmSealPieces | undefined;
  #scratch = Buffer.alloc(0);
  #sealScratch: Buffer | undefined;
  readonly #tag = Buffer.alloc(TAG);

  /** `native: false` opens through Node even where the addon is built (for tests). */
  constructor(key: Uint8Array, opts: { native?: boolean } = {}) {
    if (key.length !== 32) throw new Error("AES-256-GCM needs a 32-byte key");
    this.#key = Buffer.from(key);
    const addon = opts.native === false ? undefined : loadAddon();
    this.#gcm = addon?.gcmOpenPieces as GcmOpenPieces | undefined;
    this.#gcmSeal = addon?.gcmSealPieces as GcmSealPieces | undefined;
  }

  /**
   * With the native addon, the ciphertext is written in place in the result: Node's cipher
   * object costs more to set up than sealing a tree blob does (a third of the main thread's
   * sealing time in a backup).
   */
  seal(plain: Uint8Array): Buffer {
    const nonce = this.#nonce();
    if (this.#gcmSeal && plain.length > 0) {
      const out = Buffer.allocUnsafe(NONCE + plain.length + TAG);
      nonce.copy(out, 0);
      this.#gcmSeal(this.#key, nonce, plain, out.subarray(NONCE, NONCE + plain.length), undefined, out.subarray(NONCE + plain.length));
      return out;
    }
    const c = createCipheriv("aes-256-gcm", this.#key, nonce);
    const out = Buffer.allocUnsafe(NONCE + plain.length + TAG);
    nonce.copy(out, 0);
    const n = c.update(plain).copy(out, NONCE);
    c.final();
    c.getAuthTag().copy(out, NONCE + n);
    return out;
  }

  /**
   * With the native addon, the ciphertext goes through one buffer this crypter reuses, a
   * megabyte at a time (OpenSSL, through native/aead.c): Node's cipher returns a new buffer the
   * size of the blob, which in a backup's workers was megabytes of garbage between collections
   * and a fresh mapping (page faults) for every large blob. Without it, through Node.
   */
  sealTo(plain: Uint8Array, sink: (part: Uint8Array) => void): number {
    const nonce = this.#nonce();
    if (this.#gcmSeal) {
      const scratch = (this.#sealScratch ??= Buffer.allocUnsafeSlow(SEAL_PIECE));
      sink(nonce);
      this.#gcmSeal(this.#key, nonce, plain, scratch, (n) => sink(scratch.subarray(0, n)), this.#tag);
      sink(this.#tag);
      return NONCE + plain.length + TAG;
    }
    const c = createCipheriv("aes-256-gcm", this.#key, nonce);
    sink(nonce);
    sink(c.update(plain));
    c.final();
    sink(c.getAuthTag());
    return NONCE + plain.length + TAG;
  }

  /** Random nonces drawn from a pool: one call to the random source per 4096 of them. */
  #nonces = Buffer.alloc(0);
  #nonceAt = 0;
  #nonce(): Buffer {
    if (this.#nonceAt + NONCE > this.#nonces.length) {
      this.#nonces = randomBytes(NONCE * 4096);
      this.#nonceAt = 0;
    }
    const n = this.#nonces.subarray(this.#nonceAt, this.#nonceAt + NONCE);
    this.#nonceAt += NONCE;
    return n;
  }

  /** With the native addon, into the result in place (see `seal`). */
  open(sealed: Uint8Array, what: string): Buffer {
    if (sealed.length < NONCE + TAG) throw tooShort(what);
    if (this.#gcm && sealed.length > NONCE + TAG) {
      const plain = Buffer.allocUnsafe(sealed.length - NONCE - TAG);
      if (!this.#gcm(this.#key, sealed, plain)) {
        throw authFailed(what);
      }
      return plain;
    }
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const d = createDecipheriv("aes-256-gcm", this.#key, b.subarray(0, NONCE));
    d.setAuthTag(b.subarray(b.length - TAG));
    const plain = d.update(b.subarray(NONCE, b.length - TAG));
    try {
      d.final();
    } catch {
      throw authFailed(what);
    }
    return plain;
  }

  /**
   * With the native addon, every piece is decrypted into one buffer this crypter reuses
   * (OpenSSL, through native/aead.c): Node's decipher returns a new buffer per piece, which a
   * check worker allocated by the megabyte between collections. Without it, through Node.
   */
  openPieces(sealed: Uint8Array, what: string, piece: number, sink: (plain: Buffer) => void): void {
    if (sealed.length < NONCE + TAG) throw tooShort(what);
    if (this.#gcm) {
      if (this.#scratch.length !== piece) this.#scratch = Buffer.allocUnsafeSlow(piece);
      const scratch = this.#scratch;
      if (!this.#gcm(this.#key, sealed, scratch, (n) => sink(scratch.subarray(0, n)))) {
        throw authFailed(what);
      }
      return;
    }
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const d = createDecipheriv("aes-256-gcm", this.#key, b.subarray(0, NONCE));
    d.setAuthTag(b.subarray(b.length - TAG));
    for (let o = NONCE; o < b.length - TAG; o += piece) sink(d.update(b.subarray(o, Math.min(o + piece, b.length - TAG))));
    try {
      d.final();
    } catch {
      throw authFailed(what);
    }
  }

  /** Through the addon's AES-256-GCM, which decrypts into the ciphertext's own bytes (OpenSSL allows that). */
  openInPlace(sealed: Uint8Array, what: string): Buffer | undefined {
    if (sealed.length < NONCE + TAG) throw tooShort(what);
    if (!this.#gcm || sealed.length === NONCE + TAG) return undefined;
    const plain = Buffer.from(sealed.buffer, sealed.byteOffset + NONCE, sealed.length - NONCE - TAG);
    if (!this.#gcm(this.#key, sealed, plain)) throw authFailed(what);
    return plain;
  }

  /** The raw key, for handing to worker threads. */
  exportKey(): Buffer {
    return Buffer.from(this.#key);
  }
}

export class NoneCrypter implements Crypter {
  readonly encrypted = false;
  readonly overhead = 0;
  seal(plain: Uint8Array): Buffer {
    return Buffer.from(plain);
  }
  sealTo(plain: Uint8Array, sink: (part: Uint8Array) => void): number {
    sink(plain);
    return plain.length;
  }
  open(sealed: Uint8Array): Buffer {
    return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  }
  openPieces(sealed: Uint8Array, _what: string, piece: number, sink: (plain: Buffer) => void): void {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    for (let o = 0; o < b.length; o += piece) sink(b.subarray(o, o + piece));
  }
  openInPlace(sealed: Uint8Array): Buffer {
    return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  }
}

/** A crypter from a transferable description (worker threads). */
export function crypterFromKey(key: Uint8Array | null): Crypter {
  return key ? new AesGcmCrypter(key) : new NoneCrypter();
}
