/**
 * Bytes appended into one buffer that grows by half when it is full. A backup worker builds a
 * pack for a remote repository in one: without it each blob was a sealed buffer of its own,
 * and finishing the pack concatenated them into another, two copies of a 16 MiB pack per
 * worker at its peak. The buffer is never Node's pool, so its ArrayBuffer can be transferred
 * (and, once its bytes are uploaded, transferred back and reused).
 */
export class GrowableBytes {
  #buf: Buffer;
  #len = 0;

  /** `reuse`: a buffer that nothing else uses any more, taken instead of a new one when it holds `capacity`. */
  constructor(capacity: number, reuse?: ArrayBuffer) {
    this.#buf = reuse !== undefined && reuse.byteLength >= capacity ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(Math.max(1, capacity));
  }

  get length(): number {
    return this.#len;
  }

  append(b: Uint8Array): void {
    if (this.#len + b.length > this.#buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.#len + b.length, Math.floor(this.#buf.length * 1.5)));
      this.#buf.copy(next, 0, 0, this.#len);
      this.#buf = next;
    }
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** The bytes appended so far: a view of the buffer (its only user once appending is done). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}
