import type { Backend } from "../backend/backend.js";
import type { Crypter } from "../crypto/aead.js";
import type { BlobEntry } from "../repository/blob.js";
import { HEADER_ENTRY, parsePackTail } from "../repository/pack.js";

/**
 * Reading a pack's header from its tail, and comparing it with what an index says. Shared by
 * `check` (index entries against headers), its workers (whole packs) and `repair index`.
 */

/** How many bytes of the tail to read first when the header length is not known. */
const TAIL_GUESS = 16 * 1024;

/** The sealed length of a header listing `count` blobs. */
export function sealedHeaderLength(count: number, crypter: Crypter): number {
  return count * HEADER_ENTRY + crypter.overhead;
}

/**
 * Reads and opens a pack's header with at most two range reads: a guess (exact when the
 * caller knows how many blobs the pack holds), then exactly what the stored length says.
 * Throws CofferError CORRUPT when the header is damaged or lies about the pack.
 */
export async function readPackHeader(backend: Backend, crypter: Crypter, id: string, size: number, expectedBlobs?: number): Promise<BlobEntry[]> {
  const guess = expectedBlobs === undefined ? TAIL_GUESS : sealedHeaderLength(expectedBlobs, crypter) + 4;
  const first = Math.min(size, guess);
  const tail = await backend.load({ type: "data", name: id }, { offset: size - first, length: first });
  const r = parsePackTail(tail, size, crypter, id);
  if (r.headerLength + 4 <= tail.length) return r.entries;
  const whole = r.headerLength + 4;
  const again = await backend.load({ type: "data", name: id }, { offset: size - whole, length: whole });
  return parsePackTail(again, size, crypter, id).entries;
}

function sameEntry(a: BlobEntry, b: BlobEntry): boolean {
  return a.offset === b.offset && a.length === b.length && a.rawLength === b.rawLength && a.type === b.type && a.compressed === b.compressed && a.id.equals(b.id);
}

/**
 * Index entries the header does not list exactly (`missing`), and header entries the index
 * does not list (`extra`). Both empty means they agree.
 */
export function diffEntries(index: readonly BlobEntry[], header: readonly BlobEntry[]): { missing: BlobEntry[]; extra: BlobEntry[] } {
  const byOffset = new Map<number, BlobEntry>();
  for (const h of header) byOffset.set(h.offset, h);
  const matched = new Set<BlobEntry>();
  const missing: BlobEntry[] = [];
  for (const e of index) {
    const h = byOffset.get(e.offset);
    if (h && !matched.has(h) && sameEntry(e, h)) matched.add(h);
    else missing.push(e);
  }
  return { missing, extra: header.filter((h) => !matched.has(h)) };
}

/** One sentence for a header that disagrees with the index. */
export function describeDiff(d: { missing: BlobEntry[]; extra: BlobEntry[] }): string {
  const parts: string[] = [];
  if (d.missing.length) parts.push(`${d.missing.length} index entr${d.missing.length === 1 ? "y is" : "ies are"} not in its header`);
  if (d.extra.length) parts.push(`its header lists ${d.extra.length} blob${d.extra.length === 1 ? "" : "s"} the index does not`);
  return parts.join(", and ");
}

/** The size a pack must have when its header lists exactly `entries`. */
export function expectedPackSize(entries: readonly BlobEntry[], crypter: Crypter): number {
  let end = 0;
  for (const e of entries) end = Math.max(end, e.offset + e.length);
  return end + sealedHeaderLength(entries.length, crypter) + 4;
}
