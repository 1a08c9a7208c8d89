import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { CofferError } from "../core/errors.js";
import { keepYoungGenerationSmall } from "../core/gc.js";
import { stopError } from "../repository/lock.js";
import type { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import type { FileOutcome, FromWorker, JobFile, ToWorker, WorkerInit } from "./archive-protocol.js";

/**
 * The main-thread side of the backup workers. Small files are batched into jobs (one message
 * round trip per batch, not per file); each worker holds up to two jobs so it never waits for
 * the main thread; a worker waits for each pack's upload slot, so memory stays bounded.
 */
interface Job {
  id: number;
  files: JobFile[];
  results: FileWaiter[];
  bytes: number;
}

/** Who is told a file's outcome (a promise's resolving functions, or an object of the caller's). */
export interface FileWaiter {
  resolve(o: FileOutcome): void;
  reject(e: unknown): void;
}

interface WorkerState {
  w: Worker;
  jobs: Job[];
  flushed?: () => void;
  aborted?: () => void;
}

const BATCH_FILES = 128;
const BATCH_BYTES = 4 * 1024 * 1024;
const MAX_READY = 4;

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(cpus().length, 8));
}

export class ArchivePool {
  #workers: WorkerState[] = [];
  #ready: Job[] = [];
  #open: Job | undefined;
  #nextJob = 1;
  #failed: unknown;
  #space: (() => void)[] = [];
  #partialScheduled = false;
  #admitted = 0;

  constructor(
    private readonly repo: Repository,
    private readonly saver: PackSaver,
    private readonly workerCount = defaultWorkerCount(),
    signal?: AbortSignal,
  ) {
    signal?.addEventListener("abort", () => this.#fail(stopError(signal, "The backup was interrupted; no snapshot was saved.")), { once: true });
  }

  /**
   * The workers start with the first file to read: a backup that reads nothing (nothing
   * changed) never pays for their isolates, in time or memory.
   */
  #start(): void {
    if (this.#workers.length > 0 || this.#failed) return;
    const repo = this.repo;
    const init: WorkerInit = {
      key: repo.masterKey(),
      idKey: repo.idKey,
      chunker: repo.config.chunker,
      level: repo.config.compression.level,
      packSize: repo.config.pack_size,
      packHash: repo.packHash,
      ...(repo.backend.localRoot?.() ? { localRoot: repo.backend.localRoot?.() as string } : {}),
    };
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    for (let i = 0; i < this.workerCount; i++) {
      // A small young generation keeps each worker's heap (and its collections) small.
      const w = new Worker(new URL(`./archive-worker.${ext}`, import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      const st: WorkerState = { w, jobs: [] };
      w.on("message", (m: FromWorker) => this.#onMessage(st, m));
      w.on("error", (err) => this.#fail(err));
      w.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`backup worker exited with code ${code}`));
      });
      // Once each worker's V8 is set up (each resets the flag), see keepYoungGenerationSmall.
      w.once("online", () => keepYoungGenerationSmall());
      this.#workers.push(st);
    }
  }

  /**
   * Waits until the queue has room; undefined when it has (no promise: this runs for every
   * file). The walk awaits this before each file it hands over, so it runs ahead of the
   * workers by a bounded amount (and files gather into full batches).
   */
  admit(): Promise<void> | undefined {
    this.#start();
    // The walk runs in microtasks and would otherwise keep the event loop to itself while
    // workers wait for answers to their claims: yield to it regularly.
    const yieldNow = ++this.#admitted % 32 === 0;
    if (!yieldNow && this.#ready.length < MAX_READY && !this.#failed) return undefined;
    return this.#wait(yieldNow);
  }

  async #wait(yieldNow: boolean): Promise<void> {
    if (yieldNow) await new Promise<void>((r) => setImmediate(r));
    while (this.#ready.length >= MAX_READY && !this.#failed) await new Promise<void>((r) => this.#space.push(r));
    if (this.#failed) throw this.#failed;
  }

  /**
   * Reads, chunks and stores one file, then tells `to` its blob ids (an object the walk has
   * anyway: no promise and closures per file). Call `admit` first. A pool that has failed
   * rejects at once.
   */
  readInto(path: Buffer, size: number, to: FileWaiter): void {
    if (this.#failed) return to.reject(this.#failed);
    this.#start();
    if (size >= BATCH_BYTES) {
      this.#ready.push({ id: this.#nextJob++, files: [{ path, size }], results: [to], bytes: size });
    } else {
      const job = (this.#open ??= { id: this.#nextJob++, files: [], results: [], bytes: 0 });
      job.files.push({ path, size });
      job.results.push(to);
      job.bytes += size;
      if (job.files.length >= BATCH_FILES || job.bytes >= BATCH_BYTES) {
        this.#ready.push(job);
        this.#open = undefined;
      }
    }
    this.#dispatch();
  }

  #dispatch(): void {
    for (;;) {
      let idle: WorkerState | undefined;
      for (const s of this.#workers) if (s.jobs.length < 2 && (!idle || s.jobs.length < idle.jobs.length)) idle = s;
      if (!idle) return;
      let job = this.#ready.shift();
      if (!job && idle.jobs.length === 0 && this.#open) {
        // A worker with nothing to do takes the partial batch, but not at once: files keep
        // arriving while the walk runs, and one message round trip per file costs more than
        // the work. After the current turn of the event loop, whatever has gathered goes.
        if (!this.#partialScheduled) {
          this.#partialScheduled = true;
          setImmediate(() => {
            this.#partialScheduled = false;
            if (this.#open && this.#workers.some((w) => w.jobs.length === 0)) {
              this.#ready.push(this.#open);
              this.#open = undefined;
              this.#dispatch();
            }
          });
        }
        return;
      }
      if (!job) return;
      idle.jobs.push(job);
      const paths = Buffer.allocUnsafeSlow(job.files.reduce((a, f) => a + f.path.length, 0));
      let o = 0;
      for (const f of job.files) {
        paths.set(f.path, o);
        o += f.path.length;
      }
      idle.w.postMessage({ t: "job", job: job.id, paths, pathLengths: job.files.map((f) => f.path.length) } satisfies ToWorker, [paths.buffer as ArrayBuffer]);
      if (this.#ready.length <= MAX_READY / 2 && this.#space.length > 0) for (const w of this.#space.splice(0)) w();
    }
  }

  /** Posts to a worker (a no-op once it has exited), moving `transfer` to it. */
  #post(st: WorkerState, m: ToWorker, transfer?: ArrayBuffer[]): void {
    st.w.postMessage(m, transfer);
  }

  #onMessage(st: WorkerState, m: FromWorker): void {
    switch (m.t) {
      case "hashes": {
        const n = m.ids.length / 32;
        const want = new Uint8Array(n);
        const ids = Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength);
        for (let i = 0; i < n; i++) want[i] = this.saver.claim(ids.subarray(i * 32, i * 32 + 32)) ? 1 : 0;
        this.#post(st, { t: "claims", job: m.job, want });
        return;
      }
      case "pack": {
        const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
        // Once uploaded, the pack's buffer goes back to its worker for the next pack.
        const uploaded = (): void => this.#post(st, { t: "spare", buffer: m.bytes.buffer as ArrayBuffer }, [m.bytes.buffer as ArrayBuffer]);
        this.saver.addPack(m.id, bytes, Buffer.from(m.header.buffer, m.header.byteOffset, m.header.byteLength), m.check, uploaded).then(
          () => this.#post(st, { t: "packAck" }),
          (err) => this.#fail(err),
        );
        return;
      }
      case "packSaved": {
        this.saver.recordSavedPack(m.id, m.size, Buffer.from(m.header.buffer, m.header.byteOffset, m.header.byteLength)).catch((err) => this.#fail(err));
        return;
      }
      case "done": {
        const idx = st.jobs.findIndex((j) => j.id === m.job);
        const job = st.jobs[idx];
        if (!job) return;
        st.jobs.splice(idx, 1);
        // Each file's ids as a Buffer view (its users read them as hex), set on the outcome as it came.
        const ids = Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength);
        let at = 0;
        for (let i = 0; i < m.files.length; i++) {
          const n = (m.idCounts[i] ?? 0) * 32;
          const o = m.files[i] as FileOutcome;
          o.ids = ids.subarray(at, at + n);
          job.results[i]?.resolve(o);
          at += n;
        }
        this.#dispatch();
        return;
      }
      case "flushed":
        st.flushed?.();
        return;
      case "aborted":
        st.aborted?.();
        return;
      case "fatal":
        this.#fail(
          m.code === "NO_SPACE" || m.code === "BACKEND" || m.code === "IO"
            ? new CofferError(m.code, m.message, { stack: m.stack })
            : new CofferError("IO", `A backup worker failed: ${m.message}`, { stack: m.stack }),
        );
        return;
    }
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err;
    const jobs = [...this.#workers.flatMap((s) => s.jobs.splice(0)), ...this.#ready.splice(0), ...(this.#open ? [this.#open] : [])];
    this.#open = undefined;
    for (const j of jobs) for (const r of j.results) r.reject(err);
    for (const s of this.#space.splice(0)) s();
    for (const st of this.#workers) st.flushed?.();
  }

  /** Sends every open batch, waits for all jobs, and has each worker hand over its last pack. */
  async flush(): Promise<void> {
    if (this.#open) {
      this.#ready.push(this.#open);
      this.#open = undefined;
    }
    this.#dispatch();
    await Promise.all(
      this.#workers.map(
        (st) =>
          new Promise<void>((resolve) => {
            st.flushed = resolve;
            this.#post(st, { t: "flush" });
          }),
      ),
    );
    if (this.#failed) throw this.#failed;
  }

  /**
   * Stops the workers; a worker in the middle of a pack removes its temp file first. Safe to
   * call again (the second call does nothing).
   */
  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(
      workers.map(async (st) => {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5000);
          st.aborted = () => {
            clearTimeout(t);
            resolve();
          };
          try {
            st.w.postMessage({ t: "abort" } satisfies ToWorker);
          } catch {
            resolve();
          }
        });
        await st.w.terminate();
      }),
    );
  }
}
