import type { Backend } from "../backend/backend.js";

/** The unit read and kept: aligned blocks of a pack. */
export const PACK_BLOCK = 256 * 1024;

/**
 * Pack bytes read from a remote backend in aligned blocks of PACK_BLOCK, the ones used last
 * kept in memory up to a budget. A restore reads the packs of small files in many ranges, a
 * batch of files at a time, and the batches of a snapshot's files need the same packs again
 * and again (files backed up in one order, deduplicated, restored in another): one 16 MiB pack
 * was fetched 54 times against S3. With the blocks kept, a range costs only the blocks that are
 * not in memory, fetched in one request per run of missing blocks; blocks being fetched are
 * shared by every range that needs them. No block is ever written anywhere, and the bytes are
 * only pack bytes: every blob read from them is still opened and verified against its id.
 *
 * A request never reaches past the last blob the index knows in the pack (`end`), so a block
 * at the end of a pack is shorter. A failed request forgets its blocks (the next read asks
 * again); a read whose blocks could not be fetched asks for exactly its range once more, and
 * fails only if that fails too.
 */
export class PackBlocks {
  /** `pack:block number` → the block's bytes (a copy); least recently used first. */
  readonly #blocks = new Map<string, Block>();
  #bytes = 0;
  /** Bytes fetched and requests made, for tests and figures. */
  fetched = 0;
  requests = 0;

  constructor(
    private readonly backend: Backend,
    /** The end of the last blob of a pack, as the index knows it. */
    private readonly end: (pack: string) => number,
    /** Bytes of blocks kept at most (about; a block being fetched is counted once asked for). */
    private readonly budget: number,
  ) {}

  /**
   * The bytes [offset, offset + length) of a pack: `data[at, at + length)`, where `data` is a
   * buffer of its own that no kept block refers to (the caller may transfer it to a worker).
   * Blocks fetched for it are kept only when `keep` is set (the caller expects other reads of
   * them: it reads through gaps it does not need).
   */
  async read(pack: string, offset: number, length: number, keep = true): Promise<{ data: Buffer; at: number }> {
    if (length <= 0) return { data: Buffer.alloc(0), at: 0 };
    const first = Math.floor(offset / PACK_BLOCK);
    const last = Math.floor((offset + length - 1) / PACK_BLOCK);
    // Nothing to share or keep: exactly the range, in the buffer the backend read it into.
    if (!keep && !this.#holdsAny(pack, first, last)) return this.#exact(pack, offset, length);
    try {
      return await this.#blocksOf(pack, offset, length, keep, first, last);
    } catch {
      // The blocks reach past the range: a pack cut short after it, say. Only the range's own
      // bytes decide whether its blobs can be read.
      return this.#exact(pack, offset, length);
    }
  }

  async #exact(pack: string, offset: number, length: number): Promise<{ data: Buffer; at: number }> {
    this.requests++;
    const data = await this.backend.load({ type: "data", name: pack }, { offset, length });
    this.fetched += data.length;
    return { data, at: 0 };
  }

  async #blocksOf(pack: string, offset: number, length: number, keep: boolean, first: number, last: number): Promise<{ data: Buffer; at: number }> {
    const end = Math.max(this.end(pack), offset + length);
    const parts: Promise<Buffer>[] = [];
    let whole: Promise<Buffer> | undefined;
    let missingFrom = -1;
    for (let b = first; b <= last + 1; b++) {
      const hit = b <= last ? this.#blocks.get(`${pack}:${b}`) : undefined;
      if (b <= last && hit === undefined) {
        if (missingFrom < 0) missingFrom = b;
        continue;
      }
      if (missingFrom >= 0) {
        const run = this.#fetch(pack, missingFrom, b, end, keep);
        if (missingFrom === first && b === last + 1) whole = run.data;
        parts.push(...run.blocks);
        missingFrom = -1;
      }
      if (hit !== undefined) {
        const key = `${pack}:${b}`;
        this.#blocks.delete(key); // most recently used last
        this.#blocks.set(key, hit);
        parts.push(hit.data);
      }
    }
    this.#evict();
    // Every kept block has its copy once these resolve: the request's buffer is free to go.
    const blocks = await Promise.all(parts);
    if (whole) return { data: await whole, at: offset - first * PACK_BLOCK };
    const out = Buffer.allocUnsafeSlow(length);
    let at = 0;
    blocks.forEach((block, i) => {
      const blockStart = (first + i) * PACK_BLOCK;
      const from = Math.max(offset, blockStart) - blockStart;
      const to = Math.min(offset + length, blockStart + block.length) - blockStart;
      if (to > from) at += block.copy(out, at, from, to);
    });
    if (at !== length) throw new Error(`${at} of ${length} bytes of pack ${pack.slice(0, 8)} arrived`);
    return { data: out, at: 0 };
  }

  /**
   * Fetches blocks [from, to) of a pack in one request: the request's bytes, and a promise per
   * block (a copy of its own when kept, so that the request's buffer is not held by the cache).
   */
  #fetch(pack: string, from: number, to: number, end: number, keep: boolean): { data: Promise<Buffer>; blocks: Promise<Buffer>[] } {
    const start = from * PACK_BLOCK;
    const stop = Math.min(to * PACK_BLOCK, end);
    this.requests++;
    const data = this.backend.load({ type: "data", name: pack }, { offset: start, length: stop - start }).then((d) => {
      if (d.length !== stop - start) throw new Error(`${d.length} of ${stop - start} bytes of pack ${pack.slice(0, 8)} arrived`);
      this.fetched += d.length;
      return d;
    });
    const blocks: Promise<Buffer>[] = [];
    for (let b = from; b < to; b++) {
      const key = `${pack}:${b}`;
      const rel = (b - from) * PACK_BLOCK;
      const size = Math.min(PACK_BLOCK, stop - start - rel);
      if (!keep) {
        blocks.push(data.then((d) => d.subarray(rel, rel + size)));
        continue;
      }
      const block: Block = { data: data.then((d) => Buffer.from(d.subarray(rel, rel + size))), size };
      blocks.push(block.data);
      block.data.catch(() => {
        if (this.#blocks.get(key) === block) {
          this.#blocks.delete(key);
          this.#bytes -= size;
        }
      });
      this.#blocks.set(key, block);
      this.#bytes += size;
    }
    return { data, blocks };
  }

  #holdsAny(pack: string, first: number, last: number): boolean {
    for (let b = first; b <= last; b++) if (this.#blocks.has(`${pack}:${b}`)) return true;
    return false;
  }

  #evict(): void {
    for (const [key, block] of this.#blocks) {
      if (this.#bytes <= this.budget) return;
      this.#blocks.delete(key);
      this.#bytes -= block.size;
    }
  }

  /** Drops every block. */
  clear(): void {
    this.#blocks.clear();
    this.#bytes = 0;
  }
}

interface Block {
  data: Promise<Buffer>;
  size: number;
}
