import type { Progress } from "../core/progress.js";
import type { BlobEntry } from "../repository/blob.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import { defaultWorkerCount } from "../snapshot/archive-pool.js";
import { CheckPool } from "./check-pool.js";

/**
 * The data half of `check`: every chosen pack read whole and verified in worker threads.
 * The main thread only loads bytes and hands them over; each worker has one pack in hand and
 * one waiting while another is loaded, so every core stays busy, I/O overlaps with CPU, and
 * memory stays at a few packs.
 */
export interface ReadDataOptions {
  packs: readonly string[];
  /** The index entries of a pack. */
  entries(pack: string): BlobEntry[];
  /** Size on disk (for progress). */
  size(pack: string): number;
  /** A damaged pack: what is wrong, and the blobs that fail. */
  onDamage(pack: string, messages: string[], blobs: BlobEntry[]): void;
  workers?: number;
  progress: Progress;
  throwIfAborted(): void;
}

export interface ReadDataCounts {
  packsRead: number;
  blobsRead: number;
  bytesRead: number;
}

export async function readData(repo: Repository, o: ReadDataOptions): Promise<ReadDataCounts> {
  const workers = Math.max(1, o.workers ?? defaultWorkerCount());
  const pool = new CheckPool(repo, workers);
  const slots = Math.max(workers * 2 + 1, Math.min(repo.backend.properties.connections, 8));
  const counts: ReadDataCounts = { packsRead: 0, blobsRead: 0, bytesRead: 0 };
  const bytesTotal = o.packs.reduce((n, p) => n + o.size(p), 0);
  const report = (): void => o.progress.update({ phase: "check:data", filesDone: counts.packsRead, filesTotal: o.packs.length, bytesDone: counts.bytesRead, bytesTotal });
  report();
  try {
    await mapLimit(o.packs, slots, async (pack) => {
      o.throwIfAborted();
      const entries = o.entries(pack);
      let bytes: Buffer;
      try {
        bytes = await repo.backend.load({ type: "data", name: pack });
      } catch (err) {
        if (!repo.backend.isPermanent(err)) throw err;
        o.onDamage(pack, [`it cannot be read (${msg(err)})`], entries);
        return;
      }
      const size = bytes.length;
      const v = await pool.verify(pack, bytes, entries);
      counts.packsRead++;
      counts.blobsRead += entries.length;
      counts.bytesRead += size;
      report();
      const messages: string[] = [];
      if (v.badHash) messages.push(`its contents do not match its name (their SHA-256 is ${v.badHash.slice(0, 8)}…)`);
      if (v.headerProblem) messages.push(msg(v.headerProblem));
      const failed = v.failed.map((f) => entries[f.i]).filter((e) => e !== undefined);
      if (failed.length) {
        const first = msg(v.failed[0]?.message ?? "");
        messages.push(`${failed.length} of its ${entries.length} blobs fail verification (${first}${failed.length > 1 ? "; …" : ""})`);
      }
      if (messages.length) o.onDamage(pack, messages, failed);
    });
  } finally {
    await pool.close();
  }
  return counts;
}

function msg(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\.$/, "");
}
