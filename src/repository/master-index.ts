import type { BlobEntry, BlobType } from "./blob.js";
import { HEADER_ENTRY } from "./pack.js";
import { IdTable } from "./id-table.js";

/**
 * The in-memory index: every blob the repository holds, in flat typed arrays (≈57 bytes per
 * blob: 32 id + 4×4 location + 1 flags + 8 of hash table), not a Map of hex strings.
 * Lookups hash the first 4 bytes of the id, which are already uniformly random.
 * A blob stored in several packs (an interrupted backup, a copy) has several entries;
 * `lookup` returns the first, `entriesOf` all of them.
 */
export interface IndexedBlob extends BlobEntry {
  pack: string;
}

/** See MasterIndex#treeLocations: entry j is at ids[32j ..], pack[j], offset[j], and so on. */
export interface TreeLocations {
  ids: Uint8Array;
  pack: Uint32Array;
  offset: Uint32Array;
  length: Uint32Array;
  rawLength: Uint32Array;
  compressed: Uint8Array;
  packs: string[];
}

/**
 * Every entry of an index as flat arrays (entry i is at ids[32i ..], pack[i], ...; pack
 * numbers index `packs`): what the index cache stores (index-cache.ts).
 */
export interface IndexArrays {
  ids: Uint8Array;
  pack: Uint32Array;
  offset: Uint32Array;
  length: Uint32Array;
  rawLength: Uint32Array;
  /** Bit 1: a tree blob; bit 0: stored compressed. */
  flags: Uint8Array;
  /** Pack names (hex). */
  packs: string[];
}

const TYPE_TREE = 2;
const COMPRESSED = 1;

export class MasterIndex {
  #count = 0;
  #cap = 0;
  #ids = new Uint8Array(0);
  #pack = new Uint32Array(0);
  #offset = new Uint32Array(0);
  #length = new Uint32Array(0);
  #raw = new Uint32Array(0);
  #flags = new Uint8Array(0);
  #table = new IdTable(0);
  #packs: string[] = [];
  #packNo = new Map<string, number>();
  /** Index files this index was loaded from. */
  readonly files = new Set<string>();

  constructor(initialCapacity = 1024) {
    this.#grow(Math.max(16, initialCapacity));
  }

  get size(): number {
    return this.#count;
  }
  get packCount(): number {
    return this.#packNo.size;
  }

  #grow(cap: number): void {
    const ids = new Uint8Array(cap * 32);
    ids.set(this.#ids.subarray(0, this.#count * 32));
    const re32 = (a: Uint32Array) => {
      const n = new Uint32Array(cap);
      n.set(a.subarray(0, this.#count));
      return n;
    };
    this.#pack = re32(this.#pack);
    this.#offset = re32(this.#offset);
    this.#length = re32(this.#length);
    this.#raw = re32(this.#raw);
    const fl = new Uint8Array(cap);
    fl.set(this.#flags.subarray(0, this.#count));
    this.#flags = fl;
    this.#ids = ids;
    this.#cap = cap;
    this.#table = new IdTable(cap);
    for (let i = 0; i < this.#count; i++) this.#table.insert(ids, i);
  }

  #find(id: Uint8Array, from = -1): number {
    return this.#table.find(this.#ids, id, from);
  }

  #packNumber(pack: string): number {
    let n = this.#packNo.get(pack);
    if (n === undefined) {
      n = this.#packs.length;
      this.#packs.push(pack);
      this.#packNo.set(pack, n);
    }
    return n;
  }

  /** Makes room for `n` more blobs at once: one resize instead of one per doubling. */
  reserve(n: number): void {
    let cap = this.#cap;
    while (cap < this.#count + n) cap *= 2;
    if (cap > this.#cap) this.#grow(cap);
  }

  /** Adds one blob of a pack; a duplicate of an existing (blob, pack) pair is ignored. */
  add(pack: string, e: BlobEntry): void {
    this.#put(this.#packNumber(pack), e.id, e.offset, e.length, e.rawLength, (e.type === "tree" ? TYPE_TREE : 0) | (e.compressed ? COMPRESSED : 0));
  }

  /** One blob of pack number `pn`, unless that pack already has it. */
  #put(pn: number, id: Uint8Array, offset: number, length: number, raw: number, flags: number): void {
    for (let i = this.#find(id); i >= 0; i = this.#find(id, i)) {
      if (this.#pack[i] === pn) return;
    }
    if (this.#count === this.#cap) this.#grow(this.#cap * 2);
    const i = this.#count++;
    this.#ids.set(id, i * 32);
    this.#pack[i] = pn;
    this.#offset[i] = offset;
    this.#length[i] = length;
    this.#raw[i] = raw;
    this.#flags[i] = flags;
    this.#table.insert(this.#ids, i);
  }

  /**
   * Adds every blob of a pack from its header's entries as encoded (pack.ts, 46 bytes each:
   * type, flags, id, offset, length, raw length), without an object per blob: a backup's
   * main thread registers some 20,000 trees this way. The caller has checked the encoding
   * (decodeHeader's rules: whole entries, known types). Returns how many entries there were.
   */
  addEncoded(pack: string, header: Uint8Array): number {
    const pn = this.#packNumber(pack);
    const n = Math.floor(header.length / HEADER_ENTRY);
    this.reserve(n);
    const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
    for (let o = 0; o < n * HEADER_ENTRY; o += HEADER_ENTRY) {
      const flags = (header[o] === 1 ? TYPE_TREE : 0) | ((header[o + 1] ?? 0) & 1 ? COMPRESSED : 0);
      this.#put(pn, header.subarray(o + 2, o + 34), dv.getUint32(o + 34, true), dv.getUint32(o + 38, true), dv.getUint32(o + 42, true), flags);
    }
    return n;
  }

  addPack(pack: string, entries: readonly BlobEntry[]): void {
    for (const e of entries) this.add(pack, e);
  }

  has(id: Uint8Array): boolean {
    return this.#find(id) >= 0;
  }

  lookup(id: Uint8Array): IndexedBlob | undefined {
    const i = this.#find(id);
    return i < 0 ? undefined : this.#entry(i);
  }

  entriesOf(id: Uint8Array): IndexedBlob[] {
    const out: IndexedBlob[] = [];
    for (let i = this.#find(id); i >= 0; i = this.#find(id, i)) out.push(this.#entry(i));
    return out;
  }

  #entry(i: number): IndexedBlob {
    const f = this.#flags[i] ?? 0;
    return {
      id: Buffer.from(this.#ids.subarray(i * 32, i * 32 + 32)),
      type: (f & TYPE_TREE) !== 0 ? "tree" : "data",
      compressed: (f & COMPRESSED) !== 0,
      pack: this.#packs[this.#pack[i] ?? 0] ?? "",
      offset: this.#offset[i] ?? 0,
      length: this.#length[i] ?? 0,
      rawLength: this.#raw[i] ?? 0,
    };
  }

  *entries(): IterableIterator<IndexedBlob> {
    for (let i = 0; i < this.#count; i++) yield this.#entry(i);
  }

  /**
   * The locations of every tree blob, copied into flat arrays that can be posted to a worker
   * thread (pack names by number in `packs`).
   */
  treeLocations(): TreeLocations {
    let n = 0;
    for (let i = 0; i < this.#count; i++) if (((this.#flags[i] ?? 0) & TYPE_TREE) !== 0) n++;
    const out: TreeLocations = {
      ids: new Uint8Array(n * 32),
      pack: new Uint32Array(n),
      offset: new Uint32Array(n),
      length: new Uint32Array(n),
      rawLength: new Uint32Array(n),
      compressed: new Uint8Array(n),
      packs: this.#packs.slice(),
    };
    let j = 0;
    for (let i = 0; i < this.#count; i++) {
      const f = this.#flags[i] ?? 0;
      if ((f & TYPE_TREE) === 0) continue;
      out.ids.set(this.#ids.subarray(i * 32, i * 32 + 32), j * 32);
      out.pack[j] = this.#pack[i] ?? 0;
      out.offset[j] = this.#offset[i] ?? 0;
      out.length[j] = this.#length[i] ?? 0;
      out.rawLength[j] = this.#raw[i] ?? 0;
      out.compressed[j] = f & COMPRESSED;
      j++;
    }
    return out;
  }

  /**
   * Every entry as arrays of exactly its size (for the index cache): views into the index's
   * own arrays, valid until the next change to it.
   */
  toArrays(): IndexArrays {
    const n = this.#count;
    return {
      ids: this.#ids.subarray(0, n * 32),
      pack: this.#pack.subarray(0, n),
      offset: this.#offset.subarray(0, n),
      length: this.#length.subarray(0, n),
      rawLength: this.#raw.subarray(0, n),
      flags: this.#flags.subarray(0, n),
      packs: this.#packs.slice(),
    };
  }

  /**
   * Fills an empty index with the entries of `toArrays` (duplicates kept as they were).
   * Throws on an index that already holds entries, or on arrays that do not fit together.
   */
  fromArrays(a: IndexArrays): void {
    const n = a.pack.length;
    if (this.#count !== 0) throw new Error("fromArrays needs an empty index");
    if (a.ids.length !== n * 32 || a.offset.length !== n || a.length.length !== n || a.rawLength.length !== n || a.flags.length !== n) throw new Error("index arrays of different lengths");
    for (let i = 0; i < n; i++) if ((a.pack[i] ?? 0) >= a.packs.length) throw new Error("index arrays name a pack that is not listed");
    for (const p of a.packs) this.#packNumber(p);
    if (this.#packs.length !== a.packs.length) throw new Error("index arrays list a pack twice");
    this.reserve(n);
    this.#ids.set(a.ids);
    this.#pack.set(a.pack);
    this.#offset.set(a.offset);
    this.#length.set(a.length);
    this.#raw.set(a.rawLength);
    this.#flags.set(a.flags);
    this.#count = n;
    for (let i = 0; i < n; i++) this.#table.insert(this.#ids, i);
  }

  packs(): string[] {
    return [...this.#packNo.keys()];
  }

  /** Where the last blob the index knows in each pack ends (a pack is at least that long). */
  packEnds(): Map<string, number> {
    const ends = new Float64Array(this.#packs.length);
    for (let i = 0; i < this.#count; i++) {
      const p = this.#pack[i] ?? 0;
      ends[p] = Math.max(ends[p] ?? 0, (this.#offset[i] ?? 0) + (this.#length[i] ?? 0));
    }
    return new Map(this.#packs.map((name, p) => [name, ends[p] ?? 0]));
  }

  hasPack(pack: string): boolean {
    return this.#packNo.has(pack);
  }

  blobType(id: Uint8Array): BlobType | undefined {
    return this.lookup(id)?.type;
  }

  /**
   * Bytes held by the per-blob typed arrays and the hash table, as allocated (capacity, not
   * size). Pack names (one string per pack, not per blob) are not counted.
   */
  memoryBytes(): number {
    return (
      this.#ids.byteLength +
      this.#pack.byteLength +
      this.#offset.byteLength +
      this.#length.byteLength +
      this.#raw.byteLength +
      this.#flags.byteLength +
      this.#table.byteLength
    );
  }
}
