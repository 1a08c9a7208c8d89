import { join } from "node:path";
import { checkHandle, handlePath } from "../backend/backend.js";
import { CofferError } from "../core/errors.js";
import { collectGarbageIfGrown } from "../core/gc.js";
import type { IndexedBlob } from "../repository/master-index.js";
import { PackBlocks } from "../repository/pack-blocks.js";
import { BLOB_FIELDS, type FileMeta, MAX_RANGE, TARGET_FIELDS, type VerifyFile } from "./restore-protocol.js";
import type { Repository } from "../repository/repository.js";
import type { RestorePool } from "./restore-pool.js";
import type { FileJob, Need, PreparedFiles, TargetWriter } from "./restore-target.js";

/**
 * The data phase of a restore, batch by batch of files (see buildPlan's onEntries), pack by
 * pack within a batch. The blobs a batch needs from one pack are read in as few ranges as make
 * sense (gaps up to GAP are read through rather than cut into another request; a range holds
 * at most MAX_RANGE bytes unless one blob is larger), each range once, and handed to a worker
 * with every (file, offset) each blob goes to. From a local repository the worker reads the
 * range itself into a buffer it reuses; otherwise the main thread fetches it through
 * PackBlocks, which keeps the blocks of packs read last (REMOTE_BLOCK_BYTES), so that the
 * batches that need the same pack do not each fetch it again. At most two
 * ranges per worker are in flight and at most two batches are planned at a time, so memory
 * stays bounded whatever the restore's size. A blob that fails (damaged, missing pack) is
 * tried from another pack that holds it, if the index knows one; otherwise the files that need
 * it are reported, naming the pack, and every other file is still restored.
 */
const GAP = 1024 * 1024;
/** Pack blocks kept in memory when the main thread fetches ranges (a remote repository). */
const REMOTE_BLOCK_BYTES = 32 * 1024 * 1024;

/**
 * Whether a restore's pack bytes come through the main thread (every backend but a local
 * directory, whose packs the workers read themselves).
 */
export function packsThroughMainThread(repo: Repository): boolean {
  return repo.backend.localRoot?.() === undefined;
}

interface Range {
  pack: string;
  offset: number;
  length: number;
  needs: Need[];
  /** Files whose every (file, offset) is in this range: their metadata is set by the worker. */
  finish: FileJob[];
}

/**
 * Writes the files of each batch it is given. A batch starts at once (its ranges queue behind
 * the previous batch's); `add` returns when the batch before it is done, so the walk that
 * plans the next batch runs while the workers write this one.
 */
export class DataWriter {
  readonly #slots: Slots;
  readonly #batches: Promise<void>[] = [];
  readonly #root: string | undefined;
  /** Pack bytes read from the repository by the main thread (not a local one). */
  readonly #blocks: PackBlocks | undefined;
  /** Every file written, for --verify (only then). */
  readonly verifyJobs: FileJob[] = [];

  constructor(
    private readonly w: TargetWriter,
    private readonly pool: RestorePool,
    private readonly opts: { verify: boolean; signal?: AbortSignal },
  ) {
    this.#slots = new Slots(pool.size * 2, opts.signal);
    this.#root = w.ctx.repo.backend.localRoot?.();
    if (packsThroughMainThread(w.ctx.repo)) {
      const ends = w.ctx.repo.index.packEnds();
      this.#blocks = new PackBlocks(w.ctx.repo.backend, (pack) => ends.get(pack) ?? 0, REMOTE_BLOCK_BYTES);
    }
  }

  async add(files: PreparedFiles): Promise<void> {
    if (this.opts.verify) this.verifyJobs.push(...files.jobs);
    if (!files.jobs.some((f) => f.remaining > 0)) return;
    const batch = this.#write(files);
    batch.catch(() => undefined); // observed in turn
    this.#batches.push(batch);
    if (this.#batches.length < 2) return;
    while (this.#batches.length > 1) await this.#batches.shift();
    // The batch just done, and the trees walked for the next, are garbage V8 has promoted
    // (they lived for seconds): without this the main heap grew to several batches' worth.
    // From a local repository not after every 4 MiB: those collections took 0.3 s of the
    // main thread, which paces a restore of many small files (16 MiB: 9 % faster into tmpfs,
    // 3.5 MB more at the peak; docs/performance.md, "Restore's main thread"). Where every
    // pack passes through the main thread (S3 and the other remote backends), its heap grows
    // with them: 16 MiB cost 15-20 MB at the peak there, so it stays at 4.
    collectGarbageIfGrown((this.#blocks ? 4 : 16) * 1024 * 1024);
  }

  /** Waits for every batch. */
  async finish(): Promise<void> {
    while (this.#batches.length > 0) await this.#batches.shift();
    this.#blocks?.clear();
    if (this.opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The restore was interrupted; the target holds part of the snapshot.");
  }

  async #write(files: PreparedFiles): Promise<void> {
    const ranges = planRanges(files);
    for (const job of files.jobs) {
      if (job.metaByWorker || job.size === 0) continue;
      try {
        this.w.createFile(job);
      } catch (err) {
        this.w.failFile(job, `it could not be created: ${(err as Error).message}`, "IO");
      }
    }
    const retries: Range[] = [];
    const run = new RangeRunner(this.w, this.pool, files, retries, this.#root, this.#blocks);
    let queue = ranges;
    while (queue.length > 0) {
      await Promise.all(queue.map((r) => this.#slots.run(() => run.range(r))));
      queue = retries.splice(0);
    }
  }
}

/**
 * At most `n` ranges in flight, first come first served (a batch's ranges go before the next
 * batch's). After a failure or an abort, what waits is dropped.
 */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  #failed = false;

  constructor(
    n: number,
    private readonly signal?: AbortSignal,
  ) {
    this.#free = n;
  }

  async run(fn: () => Promise<void>): Promise<void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((res) => this.#waiting.push(res));
    try {
      if (this.#failed || this.signal?.aborted) return;
      await fn();
    } catch (err) {
      this.#failed = true;
      throw err;
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** Runs `fn` over items, at most `limit` at once; the first failure stops it and is thrown. */
async function runBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  for (const item of items) {
    if (signal?.aborted || failure) break;
    while (running.size >= limit) await Promise.race(running);
    if (failure) break;
    const p: Promise<void> = fn(item)
      .catch((err: unknown) => {
        failure ??= { err };
      })
      .finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  if (failure) throw failure.err;
}

function planRanges(files: PreparedFiles): Range[] {
  const byPack = new Map<string, Need[]>();
  for (const need of files.needs.values()) {
    let list = byPack.get(need.entry.pack);
    if (!list) byPack.set(need.entry.pack, (list = []));
    list.push(need);
  }
  const ranges: Range[] = [];
  for (const [pack, list] of byPack) {
    list.sort((a, b) => a.entry.offset - b.entry.offset);
    let cur: Range | undefined;
    for (const n of list) {
      const end = n.entry.offset + n.entry.length;
      if (cur && n.entry.offset - (cur.offset + cur.length) <= GAP && end - cur.offset <= MAX_RANGE) {
        cur.length = Math.max(cur.length, end - cur.offset);
        cur.needs.push(n);
      } else {
        ranges.push((cur = { pack, offset: n.entry.offset, length: n.entry.length, needs: [n], finish: [] }));
      }
    }
  }
  // A file written by one range only is finished (metadata) by the worker that writes it.
  const only = new Int32Array(files.jobs.length).fill(-1);
  ranges.forEach((r, ri) => {
    for (const n of r.needs) {
      for (let t = 0; t < n.targets.length; t += 2) {
        const f = (n.targets[t] as number) - files.base;
        only[f] = only[f] === -1 || only[f] === ri ? ri : -2;
      }
    }
  });
  for (const job of files.jobs) {
    const ri = only[job.no - files.base] as number;
    if (ri >= 0) {
      job.metaByWorker = true;
      (ranges[ri] as Range).finish.push(job);
    }
  }
  return ranges;
}

class RangeRunner {
  /** The file finished last, for progress. */
  #current: string | undefined;

  constructor(
    private readonly w: TargetWriter,
    private readonly pool: RestorePool,
    private readonly files: PreparedFiles,
    private readonly retries: Range[],
    /** A local repository's directory: the workers read the packs themselves. */
    private readonly root: string | undefined,
    /** Otherwise: the main thread reads them. */
    private readonly blocks: PackBlocks | undefined,
  ) {}

  #job(no: number): FileJob | undefined {
    return this.files.jobs[no - this.files.base];
  }

  async range(r: Range): Promise<void> {
    let data: Buffer | undefined;
    /** Where the range starts in `data`. */
    let at = 0;
    let read: { path: string; offset: number; length: number } | undefined;
    const handle = { type: "data" as const, name: r.pack };
    try {
      if (this.root !== undefined) {
        checkHandle(handle);
        read = { path: join(this.root, handlePath(handle)), offset: r.offset, length: r.length };
      } else if (this.blocks) ({ data, at } = await this.blocks.read(r.pack, r.offset, r.length, readsThroughGaps(r)));
      else data = await this.w.ctx.repo.backend.load(handle, { offset: r.offset, length: r.length });
    } catch (err) {
      this.#rangeFailed(r, (err as Error).message);
      return;
    }
    const n = r.needs.length;
    const ids = new Uint8Array(n * 32);
    const blobs = new Float64Array(n * BLOB_FIELDS);
    const targets: number[] = [];
    const paths = new Map<number, Uint8Array>();
    r.needs.forEach((need, i) => {
      const e = need.entry;
      ids.set(e.id, i * 32);
      blobs.set([e.offset - r.offset + at, e.length, e.rawLength, e.compressed ? 1 : 0, targets.length / TARGET_FIELDS, need.targets.length / 2], i * BLOB_FIELDS);
      for (let t = 0; t < need.targets.length; t += 2) {
        const f = need.targets[t] as number;
        targets.push(f, need.targets[t + 1] as number);
        // A copy: a view into a shared pool buffer would be cloned with the whole pool.
        if (!paths.has(f)) paths.set(f, new Uint8Array((this.#job(f) as FileJob).abs));
      }
    });
    const finish: FileMeta[] = r.finish.filter((j) => j.metaByWorker).map((j) => ({ file: j.no, size: j.size, ...this.w.meta(j.entry.node) }));
    const out = await this.pool.write({ ...(data ? { data } : { read }), pack: r.pack, ids, blobs, targets: Float64Array.from(targets), paths: [...paths], finish, close: [] });
    if (out.readError !== undefined) {
      this.#rangeFailed(r, out.readError);
      return;
    }
    this.w.ctx.result.bytesWritten += out.written;
    for (const fe of out.fileErrors) {
      const job = this.#job(fe.file);
      if (job) this.w.failFile(job, `writing it failed: ${fe.message}`, /ENOSPC|EDQUOT/.test(fe.message) ? "NO_SPACE" : "IO");
    }
    const failed = new Map(out.blobErrors.map((b) => [b.blob, b.message]));
    const done: FileJob[] = [];
    r.needs.forEach((need, i) => {
      const why = failed.get(i);
      if (why !== undefined) this.#blobFailed(need, r.pack, why, done);
      else this.#needDone(need, done);
    });
    this.#complete(done);
    this.#report();
  }

  /** The range could not be read: every blob in it failed. */
  #rangeFailed(r: Range, message: string): void {
    const why = `pack ${r.pack.slice(0, 8)} could not be read (${message})`;
    const done: FileJob[] = [];
    for (const n of r.needs) this.#blobFailed(n, r.pack, why, done);
    this.#complete(done);
    this.#report();
  }

  /** Tries another pack holding the blob, or reports every file that needed it. */
  #blobFailed(need: Need, pack: string, why: string, done: FileJob[]): void {
    need.tried ??= new Set();
    need.tried.add(pack);
    const alt = this.w.ctx.repo.index.entriesOf(need.entry.id).find((e) => e.type === "data" && !need.tried?.has(e.pack));
    if (alt) {
      for (let t = 0; t < need.targets.length; t += 2) {
        const job = this.#job(need.targets[t] as number);
        if (job) job.metaByWorker = false; // the worker may already have set it; set it again after
      }
      this.retries.push({ pack: alt.pack, offset: alt.offset, length: alt.length, needs: [{ ...need, entry: alt as IndexedBlob }], finish: [] });
      return;
    }
    for (let t = 0; t < need.targets.length; t += 2) {
      const job = this.#job(need.targets[t] as number);
      if (job) this.w.failFile(job, why, "CORRUPT", pack);
    }
    this.#needDone(need, done);
  }

  #needDone(need: Need, done: FileJob[]): void {
    for (let t = 0; t < need.targets.length; t += 2) {
      const job = this.#job(need.targets[t] as number);
      if (!job) continue;
      job.remaining--;
      this.w.bytesDone += need.entry.rawLength;
      if (job.remaining === 0) done.push(job);
    }
  }

  #complete(done: FileJob[]): void {
    const close: number[] = [];
    const last = done[done.length - 1];
    if (last) this.#current = this.w.snapshotPath(last.entry.display);
    for (const job of done) {
      this.w.filesDone++;
      if (!job.metaByWorker) close.push(job.no);
      if (!job.failed && !job.metaByWorker) this.w.finishFile(job);
    }
    this.pool.closeFiles(close);
  }

  #report(): void {
    this.w.report(this.#current);
  }
}

/**
 * A range that holds bytes its blobs do not need: other batches likely need them (the pack of
 * small files backed up in another order), so PackBlocks keeps its blocks. A range its blobs
 * fill (a large file's) is not read again.
 */
function readsThroughGaps(r: Range): boolean {
  let needed = 0;
  for (const n of r.needs) needed += n.entry.length;
  return needed < r.length;
}

/** Re-reads every restored file in the workers and checks each chunk against its id. */
export async function verifyFiles(w: TargetWriter, pool: RestorePool, jobs: FileJob[], signal?: AbortSignal): Promise<{ files: number; bytes: number; mismatches: number }> {
  const list = jobs.filter((j) => !j.failed);
  const byNo = new Map(list.map((j) => [j.no, j]));
  const batches: FileJob[][] = [];
  let cur: FileJob[] = [];
  let bytes = 0;
  for (const j of list) {
    cur.push(j);
    bytes += j.size;
    if (cur.length >= 64 || bytes >= 32 * 1024 * 1024) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length > 0) batches.push(cur);
  const total = list.reduce((a, j) => a + j.size, 0);
  const res = { files: 0, bytes: 0, mismatches: 0 };
  w.ctx.progress.update({ phase: "verify", filesDone: 0, filesTotal: list.length, bytesDone: 0, bytesTotal: total });
  await runBounded(
    batches,
    pool.size * 2,
    async (batch) => {
      const files: VerifyFile[] = batch.map((j) => ({ file: j.no, path: new Uint8Array(j.abs), ids: j.verify?.ids ?? new Uint8Array(0), lengths: Float64Array.from(j.verify?.lengths ?? []) }));
      for (const o of await pool.verify(files)) {
        const job = byNo.get(o.file) as FileJob;
        res.files++;
        res.bytes += o.bytes;
        if (o.problem !== undefined) {
          res.mismatches++;
          w.error(job.abs.toString(), `${job.abs.toString()} failed verification: ${o.problem}.`, "CORRUPT");
        }
      }
      w.ctx.progress.update({ phase: "verify", filesDone: res.files, filesTotal: list.length, bytesDone: res.bytes, bytesTotal: total });
    },
    signal,
  );
  if (signal?.aborted) throw new CofferError("INTERRUPTED", "The restore was interrupted during verification.");
  return res;
}
