import { CofferError } from "../core/errors.js";
import type { BlobEntry, BlobType } from "../repository/blob.js";
import { type IndexedBlob, MasterIndex } from "../repository/master-index.js";
import { decodeHeader, HEADER_ENTRY } from "../repository/pack.js";
import type { UsedBlobs } from "./prune-mark.js";

/**
 * The pure half of prune: given the indexed packs and the blobs the snapshots reach, decide
 * which packs stay as they are, which are repacked (their used blobs copied into new packs)
 * and which are deleted whole. No I/O.
 *
 * - A used blob stored in several packs keeps one copy (the "keeper"): the one in the pack
 *   whose bytes are most used, so that a copy in a pack that stays is preferred to one that
 *   would have to be copied. Every other copy counts as unused.
 * - A pack with no keeper is deleted.
 * - Unused bytes left in packs that stay must not exceed the `maxUnused` limit (restic's
 *   `--max-unused`): packs are repacked, most unused share first, until they do not.
 * - With `repackSmall`, packs under 80 % of the target size are repacked together (per blob
 *   type) when there are at least two of them.
 */

/** `"5%"` (of the used bytes' share of what stays), a number of bytes, or `"unlimited"`. */
export type MaxUnused = number | string;

/** The unused bytes allowed to stay, as a function of the used bytes. Throws INVALID for a bad value. */
export function maxUnusedLimit(v: MaxUnused): (usedBytes: number) => number {
  if (typeof v === "number") {
    if (!Number.isFinite(v) || v < 0) throw invalidMaxUnused(String(v));
    return () => v;
  }
  const s = v.trim().toLowerCase();
  if (s === "unlimited") return () => Number.POSITIVE_INFINITY;
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) {
    const p = Number(pct[1]);
    if (p >= 100) return () => Number.POSITIVE_INFINITY;
    // unused / (used + unused) <= p %  <=>  unused <= used * p / (100 - p)
    return (used) => (used * p) / (100 - p);
  }
  if (/^\d+$/.test(s)) return () => Number(s);
  throw invalidMaxUnused(v);
}

function invalidMaxUnused(v: string): CofferError {
  return new CofferError("INVALID", `"${v}" is not a valid max-unused; give a percentage (5%), a number of bytes, or "unlimited".`, { value: v });
}

export interface PlanInput {
  /** Every indexed pack that exists, with its index entries (header-encoded, 46 bytes each). */
  packs: ReadonlyMap<string, { size: number; entries: Buffer }>;
  used: UsedBlobs;
  maxUnused: (usedBytes: number) => number;
  repackSmall?: boolean;
  packSize: number;
}

export interface PlanStats {
  packs: number;
  packBytes: number;
  /** Index entries (a blob in two packs counts twice). */
  blobs: number;
  /** Distinct blobs the snapshots reach, and the stored bytes of one copy of each. */
  usedBlobs: number;
  usedBytes: number;
  /** Extra copies of used blobs, and their bytes (counted as unused too). */
  duplicateBlobs: number;
  duplicateBytes: number;
  /** Entries and stored bytes that are not a kept copy of a used blob. */
  unusedBlobs: number;
  unusedBytes: number;
  /** Sizes of the packs deleted whole, and of those repacked. */
  removeBytes: number;
  repackBytes: number;
  /** Used blobs copied by the repack, and their stored bytes. */
  repackBlobs: number;
  repackBlobBytes: number;
  /** Unused bytes left in the packs that stay. */
  unusedAfter: number;
  /** Bytes the new packs are expected to take. */
  newPackBytes: number;
}

export interface PrunePlan {
  keep: string[];
  repack: string[];
  remove: string[];
  /** Used blobs no pack holds (hex, type), at most 20 listed; `missingCount` counts them all. */
  missing: { id: string; type: BlobType }[];
  missingCount: number;
  stats: PlanStats;
  /** The copy of a used blob that prune keeps; undefined for blobs that are not used or missing. */
  keeper(id: Uint8Array, type: BlobType): IndexedBlob | undefined;
  /** A pack's entries. */
  entries(pack: string): BlobEntry[];
  /** Every copy of a blob in the indexed packs (for falling back when the keeper is damaged). */
  copies(id: Uint8Array, type: BlobType): IndexedBlob[];
}

const SMALL_SHARE = 0.8;
/** Per pack: sealed header overhead (nonce + tag + length); per blob: one header entry. */
const PACK_OVERHEAD = 32;

export function planPrune(input: PlanInput): PrunePlan {
  const present = new MasterIndex();
  const blobBytes = new Map<string, number>();
  const candidateBytes = new Map<string, number>();
  const isUsed = (id: Uint8Array, type: BlobType): boolean => (type === "tree" ? input.used.trees : input.used.data).has(id);
  const decoded = (pack: string): BlobEntry[] => {
    const p = input.packs.get(pack);
    return p ? decodeHeader(p.entries, `pack ${pack.slice(0, 8)}`) : [];
  };
  for (const pack of input.packs.keys()) {
    let bytes = 0;
    let used = 0;
    for (const e of decoded(pack)) {
      present.add(pack, e);
      bytes += e.length;
      if (isUsed(e.id, e.type)) used += e.length;
    }
    blobBytes.set(pack, bytes);
    candidateBytes.set(pack, used);
  }
  const share = (pack: string): number => (candidateBytes.get(pack) ?? 0) / Math.max(1, blobBytes.get(pack) ?? 0);

  const copies = (id: Uint8Array, type: BlobType): IndexedBlob[] => present.entriesOf(id).filter((e) => e.type === type);
  const keeper = (id: Uint8Array, type: BlobType): IndexedBlob | undefined => {
    if (!isUsed(id, type)) return undefined;
    let best: IndexedBlob | undefined;
    for (const e of copies(id, type)) {
      if (!best) best = e;
      else {
        const d = share(e.pack) - share(best.pack);
        if (d > 0 || (d === 0 && (e.pack < best.pack || (e.pack === best.pack && e.offset < best.offset)))) best = e;
      }
    }
    return best;
  };

  const stats: PlanStats = {
    packs: input.packs.size,
    packBytes: 0,
    blobs: 0,
    usedBlobs: 0,
    usedBytes: 0,
    duplicateBlobs: 0,
    duplicateBytes: 0,
    unusedBlobs: 0,
    unusedBytes: 0,
    removeBytes: 0,
    repackBytes: 0,
    repackBlobs: 0,
    repackBlobBytes: 0,
    unusedAfter: 0,
    newPackBytes: 0,
  };
  interface PackState {
    id: string;
    size: number;
    type: BlobType;
    kept: number;
    keptBytes: number;
    unusedBytes: number;
  }
  const states: PackState[] = [];
  for (const [pack, info] of input.packs) {
    const st: PackState = { id: pack, size: info.size, type: "data", kept: 0, keptBytes: 0, unusedBytes: 0 };
    stats.packBytes += info.size;
    const entries = decoded(pack);
    if (entries[0]) st.type = entries[0].type;
    for (const e of entries) {
      stats.blobs++;
      const k = keeper(e.id, e.type);
      if (k && k.pack === pack && k.offset === e.offset) {
        st.kept++;
        st.keptBytes += e.length;
      } else {
        st.unusedBytes += e.length;
        stats.unusedBlobs++;
        stats.unusedBytes += e.length;
        if (k) {
          stats.duplicateBlobs++;
          stats.duplicateBytes += e.length;
        }
      }
    }
    stats.usedBlobs += st.kept;
    stats.usedBytes += st.keptBytes;
    states.push(st);
  }

  const missing: { id: string; type: BlobType }[] = [];
  let missingCount = 0;
  for (const [type, set] of [["tree", input.used.trees], ["data", input.used.data]] as const) {
    for (const id of set.values()) {
      if (present.entriesOf(id).some((e) => e.type === type)) continue;
      missingCount++;
      if (missing.length < 20) missing.push({ id: Buffer.from(id).toString("hex"), type });
    }
  }

  const keep = new Set<string>();
  const repack = new Set<string>();
  const remove: string[] = [];
  const partly: PackState[] = [];
  for (const st of states) {
    if (st.kept === 0) remove.push(st.id);
    else {
      keep.add(st.id);
      if (st.unusedBytes > 0) partly.push(st);
    }
  }
  // Most unused share first; then more unused bytes; then by id, so the plan is stable.
  partly.sort((a, b) => b.unusedBytes / (b.unusedBytes + b.keptBytes) - a.unusedBytes / (a.unusedBytes + a.keptBytes) || b.unusedBytes - a.unusedBytes || (a.id < b.id ? -1 : 1));
  let unusedLeft = partly.reduce((n, st) => n + st.unusedBytes, 0);
  const limit = input.maxUnused(stats.usedBytes);
  for (const st of partly) {
    if (unusedLeft <= limit) break;
    repack.add(st.id);
    keep.delete(st.id);
    unusedLeft -= st.unusedBytes;
  }
  if (input.repackSmall) {
    for (const type of ["data", "tree"] as const) {
      const small = states.filter((st) => st.type === type && keep.has(st.id) && st.size < input.packSize * SMALL_SHARE);
      const alreadyRepacked = states.filter((st) => st.type === type && repack.has(st.id)).length;
      if (small.length + alreadyRepacked < 2 || small.length === 0) continue;
      for (const st of small) {
        repack.add(st.id);
        keep.delete(st.id);
        unusedLeft -= st.unusedBytes;
      }
    }
  }
  const byId = new Map(states.map((st) => [st.id, st]));
  for (const id of remove) stats.removeBytes += byId.get(id)?.size ?? 0;
  const newBytes = new Map<BlobType, number>();
  for (const id of repack) {
    const st = byId.get(id) as PackState;
    stats.repackBytes += st.size;
    stats.repackBlobs += st.kept;
    stats.repackBlobBytes += st.keptBytes;
    newBytes.set(st.type, (newBytes.get(st.type) ?? 0) + st.keptBytes + st.kept * HEADER_ENTRY);
  }
  for (const b of newBytes.values()) stats.newPackBytes += b + PACK_OVERHEAD * Math.max(1, Math.ceil(b / input.packSize));
  stats.unusedAfter = Math.max(0, unusedLeft);

  const sorted = (s: Iterable<string>): string[] => [...s].sort();
  return { keep: sorted(keep), repack: sorted(repack), remove: remove.sort(), missing, missingCount, stats, keeper, entries: decoded, copies };
}
