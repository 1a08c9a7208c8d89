import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { CofferError } from "../core/errors.js";
import { decodeHeader } from "../repository/pack.js";
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
  results: { resolve(o: FileOutcome): void; reject(e: unknown): void }[];
  bytes: number;
}

interface WorkerState {
  w: Worker;
  jobs: Job[];
  flushed?: () => void;
}

const BATCH_FILES = 128;
const BATCH_BYTES = 4 * 1024 * 1024;
const MAX_READY = 16;

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

  constructor(
    private readonly repo: Repository,
    private readonly saver: PackSaver,
    workers = defaultWorkerCount(),
  ) {
    const init: WorkerInit = {
      key: repo.masterKey(),
      idKey: repo.idKey,
      chunker: repo.config.chunker,
      level: repo.config.compression.level,
      packSize: repo.config.pack_size,
    };
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    for (let i = 0; i < workers; i++) {
      const w = new Worker(new URL(`./archive-worker.${ext}`, import.meta.url), { workerData: init });
      const st: WorkerState = { w, jobs: [] };
      w.on("message", (m: FromWorker) => this.#onMessage(st, m));
      w.on("error", (err) => this.#fail(err));
      w.on("exit", (code) => {
        if (code !== 0) this.#fail(new Error(`backup worker exited with code ${code}`));
      });
      this.#workers.push(st);
    }
  }

  /** Reads, chunks and stores one file; resolves with its blob ids. */
  async read(path: Buffer, size: number): Promise<FileOutcome> {
    if (this.#failed) throw this.#failed;
    while (this.#ready.length >= MAX_READY) {
      await new Promise<void>((r) => this.#space.push(r));
      if (this.#failed) throw this.#failed;
    }
    return new Promise<FileOutcome>((resolve, reject) => {
      if (size >= BATCH_BYTES) {
        this.#ready.push({ id: this.#nextJob++, files: [{ path, size }], results: [{ resolve, reject }], bytes: size });
      } else {
        const job = (this.#open ??= { id: this.#nextJob++, files: [], results: [], bytes: 0 });
        job.files.push({ path, size });
        job.results.push({ resolve, reject });
        job.bytes += size;
        if (job.files.length >= BATCH_FILES || job.bytes >= BATCH_BYTES) {
          this.#ready.push(job);
          this.#open = undefined;
        }
      }
      this.#dispatch();
    });
  }

  #dispatch(): void {
    for (;;) {
      const idle = this.#workers.filter((s) => s.jobs.length < 2).sort((a, b) => a.jobs.length - b.jobs.length)[0];
      if (!idle) return;
      let job = this.#ready.shift();
      // A worker with nothing to do takes the partial batch rather than wait for it to fill.
      if (!job && idle.jobs.length === 0 && this.#open) {
        job = this.#open;
        this.#open = undefined;
      }
      if (!job) return;
      idle.jobs.push(job);
      this.#post(idle, { t: "job", job: job.id, files: job.files });
      const wake = this.#space.shift();
      wake?.();
    }
  }

  #post(st: WorkerState, m: ToWorker): void {
    st.w.postMessage(m);
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
        const entries = decodeHeader(Buffer.from(m.header.buffer, m.header.byteOffset, m.header.byteLength), `pack ${m.id.slice(0, 8)}`);
        this.saver.addPack(m.id, bytes, entries).then(
          () => this.#post(st, { t: "packAck" }),
          (err) => this.#fail(err),
        );
        return;
      }
      case "done": {
        const idx = st.jobs.findIndex((j) => j.id === m.job);
        const job = st.jobs[idx];
        if (!job) return;
        st.jobs.splice(idx, 1);
        m.files.forEach((o, i) => job.results[i]?.resolve(o));
        this.#dispatch();
        return;
      }
      case "flushed":
        st.flushed?.();
        return;
      case "fatal":
        this.#fail(new CofferError("IO", `A backup worker failed: ${m.message}`, { stack: m.stack }));
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

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}
