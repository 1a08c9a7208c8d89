import { join } from "node:path";
import { handlePath } from "../backend/backend.js";
import type { Progress } from "../core/progress.js";
import type { BlobEntry } from "../repository/blob.js";
import { decodeHeader, encodeHeader, HEADER_ENTRY } from "../repository/pack.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import { findingText } from "./check-findings.js";
import type { CheckPool, VerifyOutcome } from "./check-pool.js";
import type { SummaryBatch } from "./tree-summary.js";

/**
 * The data half of `check`: every chosen pack read and verified in the worker threads, in
 * one pass (see verify-pack.ts), its trees summarised for the tree walk on the way. A worker
 * reads a local pack file itself, a piece at a time into one reusable window, so memory does
 * not grow with pack size; from any other backend the main thread loads each pack whole and
 * transfers it. A worker is sent its next pack as soon as it answers, so every core stays busy
 * and none waits at the end while packs queue behind another's.
 */
export interface ReadDataOptions {
  pool: CheckPool;
  packs: readonly string[];
  /** The index entries of a pack, in pack-header encoding. */
  encoded(pack: string): Buffer;
  /** Size on disk (for progress). */
  size(pack: string): number;
  /** A damaged pack: what is wrong, and the blobs that fail. */
  onDamage(pack: string, messages: string[], blobs: BlobEntry[]): void;
  /** Summaries of the pack's trees that verified, tagged with their entry's position in `encoded`. */
  onTrees(encoded: Buffer, trees: SummaryBatch): void;
  progress: Progress;
  throwIfAborted(): void;
}

export interface ReadDataCounts {
  packsRead: number;
  blobsRead: number;
  bytesRead: number;
}

type Verdict = Exclude<VerifyOutcome, { unreadable: string }>;

export async function readData(repo: Repository, o: ReadDataOptions): Promise<ReadDataCounts> {
  const root = repo.backend.localRoot?.();
  const counts: ReadDataCounts = { packsRead: 0, blobsRead: 0, bytesRead: 0 };
  const bytesTotal = o.packs.reduce((n, p) => n + o.size(p), 0);
  const report = (): void => o.progress.update({ phase: "check:data", filesDone: counts.packsRead, filesTotal: o.packs.length, bytesDone: counts.bytesRead, bytesTotal });
  report();
  // Costliest first (bytes, and a per-blob cost that makes packs of small trees slow), so the
  // last packs are short and no worker idles long while another finishes.
  const cost = (p: string): number => o.size(p) + (o.encoded(p).length / HEADER_ENTRY) * 8192;
  const order = [...o.packs].sort((a, b) => cost(b) - cost(a));
  // One pack per worker at a time, each worker's next pack sent as soon as its verdict is in
  // (before the verdict is recorded): packs queued behind a worker's current one could not be
  // taken by the other, which then idled at the end for up to a pack's time.
  let next = 0;
  const lane = async (): Promise<void> => {
    let pack = order[next++];
    let pending = pack === undefined ? undefined : verifyOne(pack);
    while (pack !== undefined && pending !== undefined) {
      const v = await pending;
      const done = pack;
      pack = order[next++];
      pending = pack === undefined ? undefined : verifyOne(pack);
      pending?.catch(() => undefined); // awaited in the next turn, or the lane has failed
      if (v) record(done, v);
    }
  };
  /** The pack's verdict, or undefined when it cannot be read at all (recorded as damage). */
  const verifyOne = async (pack: string): Promise<Verdict | undefined> => {
    o.throwIfAborted();
    const encoded = o.encoded(pack);
    let v: VerifyOutcome | undefined;
    // A local file the worker cannot read is loaded through the backend (its retries, its errors).
    if (root !== undefined) v = await o.pool.verify(pack, { path: join(root, handlePath({ type: "data", name: pack })) }, encoded, true);
    if (v !== undefined && !("unreadable" in v)) return v;
    let bytes: Buffer;
    try {
      bytes = await repo.backend.load({ type: "data", name: pack });
    } catch (err) {
      if (!repo.backend.isPermanent(err)) throw err;
      o.onDamage(pack, [`it cannot be read (${findingText(err)})`], decodeHeader(encoded, `pack ${pack.slice(0, 8)}`));
      return undefined;
    }
    v = await o.pool.verify(pack, { bytes }, encoded, true);
    if ("unreadable" in v) throw new Error(`unreachable: ${v.unreadable}`);
    return v;
  };
  const record = (pack: string, v: Verdict): void => {
    const encoded = o.encoded(pack);
    const count = encoded.length / HEADER_ENTRY;
    counts.packsRead++;
    counts.blobsRead += count;
    counts.bytesRead += v.size;
    report();
    if (v.trees) o.onTrees(encoded, v.trees);
    const messages: string[] = [];
    if (v.badHash) messages.push(`its contents do not match its name (their hash is ${v.badHash.slice(0, 8)}…)`);
    if (v.headerProblem) messages.push(findingText(v.headerProblem));
    const all = v.failed.length ? decodeHeader(encoded, `pack ${pack.slice(0, 8)}`) : [];
    const failed = v.failed.map((f) => all[f.i]).filter((e) => e !== undefined);
    if (failed.length) {
      const first = findingText(v.failed[0]?.message ?? "");
      messages.push(`${failed.length} of its ${count} blobs fail verification (${first}${failed.length > 1 ? "; …" : ""})`);
    }
    if (messages.length) o.onDamage(pack, messages, failed);
  };
  // From another backend the main thread loads each pack: two per worker, so a load overlaps
  // the worker's verifying.
  const lanes = (root !== undefined ? 1 : 2) * o.pool.size;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, order.length)) }, lane));
  return counts;
}

/**
 * The tree half of the work for packs not read whole: their tree blobs, in runs of up to
 * TREE_RUN (one range read each, so every worker gets a share), verified and summarised in the
 * workers. Trees that fail are left for the walk, which loads them again and says why.
 */
const TREE_RUN = 1024;

export async function summarizeTreePacks(repo: Repository, o: Pick<ReadDataOptions, "pool" | "onTrees" | "throwIfAborted"> & { packs: { pack: string; trees: BlobEntry[] }[] }): Promise<void> {
  const runs: { pack: string; trees: BlobEntry[] }[] = [];
  for (const { pack, trees } of o.packs) {
    const sorted = [...trees].sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < sorted.length; i += TREE_RUN) runs.push({ pack, trees: sorted.slice(i, i + TREE_RUN) });
  }
  await mapLimit(runs, o.pool.size * 2, async ({ pack, trees }) => {
    o.throwIfAborted();
    let base = Infinity;
    let end = 0;
    for (const e of trees) {
      base = Math.min(base, e.offset);
      end = Math.max(end, e.offset + e.length);
    }
    let bytes: Buffer;
    try {
      bytes = await repo.backend.load({ type: "data", name: pack }, { offset: base, length: end - base });
    } catch {
      return; // the walk loads each tree it needs itself, and reports or throws what it finds
    }
    const encoded = encodeHeader(trees);
    o.onTrees(encoded, await o.pool.summarize(pack, base, bytes, encoded));
  });
}
