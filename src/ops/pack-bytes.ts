import { readSync } from "node:fs";

/**
 * A pack's bytes as `check` reads them: the tail first (for the header), then everything in
 * order, keeping only what a blob not yet verified still needs. Views returned are valid until
 * the next call.
 */
export interface PackBytes {
  readonly size: number;
  /** The last `n` bytes. */
  tail(n: number): Buffer;
  /** Reads on up to `end`, dropping what lies before `keep` (at most where the last read ended); returns the new bytes. */
  advance(end: number, keep: number): Buffer;
  /** Bytes [start, end): kept and read. */
  view(start: number, end: number): Buffer;
}

/** A pack already in memory (loaded through a backend). */
export class MemoryPackBytes implements PackBytes {
  #at = 0;
  constructor(private readonly bytes: Buffer) {}

  get size(): number {
    return this.bytes.length;
  }
  tail(n: number): Buffer {
    return this.bytes.subarray(this.bytes.length - n);
  }
  advance(end: number): Buffer {
    const out = this.bytes.subarray(this.#at, end);
    this.#at = end;
    return out;
  }
  view(start: number, end: number): Buffer {
    return this.bytes.subarray(start, end);
  }
}

/**
 * A buffer reused from one pack file to the next: allocated once for the largest blob plus a
 * piece, and grown only for a larger blob (a large tree, or a damaged index).
 */
export class ReadWindow {
  buf: Buffer;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
}

/**
 * A pack file read with blocking reads (worker threads) into a reusable window, so a pack is
 * never held whole and nothing is allocated per pack.
 */
export class FilePackBytes implements PackBytes {
  /** File offsets of the window's first byte and of the end of what was read. */
  #start = 0;
  #end = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly window: ReadWindow,
  ) {}

  tail(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    readExact(this.fd, b, 0, n, this.size - n);
    return b;
  }

  advance(end: number, keep: number): Buffer {
    let buf = this.window.buf;
    const kept = this.#end - keep;
    if (end - keep > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(end - keep, buf.length * 2));
      buf.copy(grown, 0, keep - this.#start, this.#end - this.#start);
      this.window.buf = buf = grown;
    } else if (keep > this.#start && kept > 0) {
      buf.copyWithin(0, keep - this.#start, this.#end - this.#start);
    }
    this.#start = keep;
    readExact(this.fd, buf, kept, end - this.#end, this.#end);
    this.#end = end;
    return buf.subarray(kept, end - keep);
  }

  view(start: number, end: number): Buffer {
    return this.window.buf.subarray(start - this.#start, end - this.#start);
  }
}

function readExact(fd: number, buf: Buffer, at: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const n = readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) throw new Error(`the file ended at byte ${position + done}, before its listed size`);
    done += n;
  }
}
