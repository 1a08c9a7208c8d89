/**
 * A set of 32-byte blob ids in flat memory (32 bytes an id plus 8 of hash table), for the
 * mark phase of prune: millions of used blobs fit in tens of MB, where a Set of hex strings
 * would take several times that. Ids are HMACs, so their first 4 bytes are already uniformly
 * random and serve as the hash.
 */
export class BlobIdSet {
  #count = 0;
  #cap = 0;
  #ids = new Uint8Array(0);
  #table = new Int32Array(0); // entry index + 1, 0 = empty

  constructor(initialCapacity = 1024) {
    this.#grow(Math.max(16, initialCapacity));
  }

  get size(): number {
    return this.#count;
  }

  /** Adds an id; false when it was there already. */
  add(id: Uint8Array): boolean {
    if (this.#find(id) >= 0) return false;
    if (this.#count === this.#cap) this.#grow(this.#cap * 2);
    const i = this.#count++;
    this.#ids.set(id.subarray(0, 32), i * 32);
    this.#slot(i);
    return true;
  }

  has(id: Uint8Array): boolean {
    return this.#find(id) >= 0;
  }

  /** Every id, as a view that is valid until the next `add` (copy it to keep it). */
  *values(): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.#count; i++) yield this.#ids.subarray(i * 32, i * 32 + 32);
  }

  memoryBytes(): number {
    return this.#ids.byteLength + this.#table.byteLength;
  }

  #grow(cap: number): void {
    const ids = new Uint8Array(cap * 32);
    ids.set(this.#ids.subarray(0, this.#count * 32));
    this.#ids = ids;
    this.#cap = cap;
    let ts = 16;
    while (ts < cap * 2) ts *= 2;
    this.#table = new Int32Array(ts);
    for (let i = 0; i < this.#count; i++) this.#slot(i);
  }

  #hash(b: Uint8Array, off: number): number {
    return ((b[off] ?? 0) | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0;
  }

  #slot(i: number): void {
    const mask = this.#table.length - 1;
    let s = this.#hash(this.#ids, i * 32) & mask;
    while (this.#table[s] !== 0) s = (s + 1) & mask;
    this.#table[s] = i + 1;
  }

  #find(id: Uint8Array): number {
    const mask = this.#table.length - 1;
    const ids = this.#ids;
    for (let s = this.#hash(id, 0) & mask; ; s = (s + 1) & mask) {
      const v = this.#table[s] ?? 0;
      if (v === 0) return -1;
      const o = (v - 1) * 32;
      let k = 0;
      while (k < 32 && ids[o + k] === id[k]) k++;
      if (k === 32) return v - 1;
    }
  }
}
