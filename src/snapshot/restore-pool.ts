import { Worker } from "node:worker_threads";
import { CofferError } from "../core/errors.js";
import { keepYoungGenerationSmall } from "../core/gc.js";
import type { Repository } from "../repository/repository.js";
import type { FromRestoreWorker, RestoreWorkerInit, VerifyFile, VerifyOutcome, WriteJob, WriteOutcome } from "./restore-protocol.js";

/**
 * The main-thread side of the restore workers. Callers bound how many jobs they submit; each
 * job goes to the worker with the fewest outstanding, which runs its jobs in order. A worker
 * that dies fails every outstanding job and the pool.
 */
interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface WorkerState {
  w: Worker;
  jobs: Map<number, Pending>;
  exited: boolean;
}

export class RestorePool {
  #workers: WorkerState[] = [];
  #next = 1;
  #failed: unknown;
  #closing = false;

  constructor(repo: Repository, workers: number) {
    const init: RestoreWorkerInit = { key: repo.masterKey(), idKey: repo.idKey, maxBlob: repo.config.chunker.max };
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    let starting = Math.max(1, workers);
    for (let i = 0; i < Math.max(1, workers); i++) {
      const w = new Worker(new URL(`./restore-worker.${ext}`, import.meta.url), { workerData: init });
      // Once every worker's V8 is set up (each resets the flag), see keepYoungGenerationSmall.
      w.once("online", () => {
        if (--starting === 0) keepYoungGenerationSmall();
      });
      const st: WorkerState = { w, jobs: new Map(), exited: false };
      w.on("message", (m: FromRestoreWorker) => this.#onMessage(st, m));
      w.on("error", (err) => this.#fail(err));
      w.on("exit", (code) => {
        st.exited = true;
        if (code !== 0 && !this.#closing) this.#fail(new CofferError("IO", `A restore worker exited with code ${code}.`));
      });
      this.#workers.push(st);
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Writes one pack range; the job's data buffer, if any, is transferred (unusable afterwards). */
  write(job: Omit<WriteJob, "t" | "job">): Promise<WriteOutcome> {
    const d = job.data;
    if (!d) return this.#submit((id) => ({ t: "write", job: id, ...job }), []) as Promise<WriteOutcome>;
    // Transfer without copying only when the bytes own their whole ArrayBuffer.
    const data = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : new Uint8Array(d);
    return this.#submit((id) => ({ t: "write", job: id, ...job, data }), [data.buffer as ArrayBuffer]) as Promise<WriteOutcome>;
  }

  verify(files: VerifyFile[]): Promise<VerifyOutcome[]> {
    return this.#submit((id) => ({ t: "verify", job: id, files }), []) as Promise<VerifyOutcome[]>;
  }

  /** Tells every worker it may close these files (all their bytes are written). */
  closeFiles(files: number[]): void {
    if (files.length === 0 || this.#failed) return;
    for (const st of this.#workers) st.w.postMessage({ t: "close", files });
  }

  #submit(make: (id: number) => object, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.#failed) return Promise.reject(this.#failed);
    const st = this.#workers.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      st.jobs.set(id, { resolve, reject });
      st.w.postMessage(make(id), transfer);
    });
  }

  #onMessage(st: WorkerState, m: FromRestoreWorker): void {
    if (m.t === "fatal") {
      this.#fail(new CofferError("IO", `A restore worker failed: ${m.message}`, m.stack ? { stack: m.stack } : {}));
      return;
    }
    const p = st.jobs.get(m.job);
    if (!p) return;
    st.jobs.delete(m.job);
    if (m.t === "written") p.resolve({ written: m.written, blobErrors: m.blobErrors, fileErrors: m.fileErrors, ...(m.readError !== undefined ? { readError: m.readError } : {}) });
    else p.resolve(m.files);
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err;
    for (const st of this.#workers) {
      for (const p of st.jobs.values()) p.reject(err);
      st.jobs.clear();
    }
  }

  /** Has each worker close its files and exit (terminating one that does not within 5 s). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#workers.map(
        (st) =>
          new Promise<void>((resolve) => {
            if (st.exited) return resolve();
            const timer = setTimeout(() => void st.w.terminate().then(() => resolve()), 5000);
            st.w.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            st.w.postMessage({ t: "end" });
          }),
      ),
    );
  }
}
