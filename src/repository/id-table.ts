/**
 * Where ids are, by id: an open-addressing table of entry numbers over ids held 32 bytes each
 * in one array (`ids`, entry i at i × 32), keyed by an id's first four bytes (ids are hashes,
 * so those are already uniform) and probed linearly. Two slots or more per entry; a slot holds
 * the entry number + 1 (0: empty). The ids stay with the caller, which may hold one id more
 * than once (`find` from a given entry finds the next).
 */
export class IdTable {
  readonly #slots: Int32Array;
  readonly #mask: number;

  /** A table for up to `capacity` entries. */
  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.#slots = new Int32Array(size);
    this.#mask = size - 1;
  }

  get byteLength(): number {
    return this.#slots.byteLength;
  }

  /** Adds entry `i` (its id at `ids[i × 32]`). */
  insert(ids: Uint8Array, i: number): void {
    let s = first(ids, i * 32) & this.#mask;
    while (this.#slots[s] !== 0) s = (s + 1) & this.#mask;
    this.#slots[s] = i + 1;
  }

  /** The first entry after `from` whose id is `id` (32 bytes from its start), or -1. */
  find(ids: Uint8Array, id: Uint8Array, from = -1): number {
    for (let s = first(id, 0) & this.#mask; ; s = (s + 1) & this.#mask) {
      const v = this.#slots[s] ?? 0;
      if (v === 0) return -1;
      const i = v - 1;
      if (i > from && sameId(ids, i * 32, id)) return i;
    }
  }
}

function first(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0;
}

function sameId(ids: Uint8Array, o: number, id: Uint8Array): boolean {
  for (let k = 0; k < 32; k++) if (ids[o + k] !== id[k]) return false;
  return true;
}
