import { Worker } from "node:worker_threads";
import { CofferError } from "../core/errors.js";
import type { BlobEntry } from "../repository/blob.js";
import { encodeHeader } from "../repository/pack.js";
import type { Repository } from "../repository/repository.js";
import type { CheckWorkerInit, FromCheckWorker, PackVerdict, VerifyPack } from "./check-protocol.js";

/**
 * The main-thread side of the `check --read-data` workers: hands each loaded pack to the
 * worker with the fewest packs waiting, transferring (not copying) its bytes.
 */
interface Pending {
  resolve(v: PackVerdict): void;
  reject(e: unknown): void;
}

interface WorkerState {
  w: Worker;
  pending: Map<number, Pending>;
}

export class CheckPool {
  #workers: WorkerState[] = [];
  #seq = 0;
  #failed: unknown;

  constructor(repo: Repository, workers: number) {
    const init: CheckWorkerInit = { key: repo.masterKey(), idKey: repo.idKey };
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    for (let i = 0; i < Math.max(1, workers); i++) {
      const w = new Worker(new URL(`./check-worker.${ext}`, import.meta.url), { workerData: init });
      const st: WorkerState = { w, pending: new Map() };
      w.on("message", (m: FromCheckWorker) => this.#onMessage(st, m));
      w.on("error", (err) => this.#fail(err));
      w.on("exit", (code) => {
        if (code !== 0) this.#fail(new CofferError("IO", `A check worker exited with code ${code}.`));
      });
      this.#workers.push(st);
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Verifies one whole pack against its index entries. `bytes` is unusable afterwards. */
  verify(id: string, bytes: Buffer, entries: readonly BlobEntry[]): Promise<PackVerdict> {
    if (this.#failed) return Promise.reject(this.#failed);
    const st = this.#workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const seq = ++this.#seq;
    // Only a buffer that owns its whole ArrayBuffer can be handed over; a pooled one is copied.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const view = own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : new Uint8Array(bytes);
    const msg: VerifyPack = { t: "verify", seq, id, bytes: view, entries: encodeHeader(entries) };
    return new Promise<PackVerdict>((resolve, reject) => {
      st.pending.set(seq, { resolve, reject });
      st.w.postMessage(msg, [view.buffer as ArrayBuffer]);
    });
  }

  #onMessage(st: WorkerState, m: FromCheckWorker): void {
    const p = st.pending.get(m.seq);
    if (!p) return;
    st.pending.delete(m.seq);
    if (m.t === "verdict") p.resolve(m);
    else p.reject(new CofferError("IO", `A check worker failed: ${m.message}`));
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err;
    for (const st of this.#workers) {
      for (const p of st.pending.values()) p.reject(err);
      st.pending.clear();
    }
  }

  async close(): Promise<void> {
    this.#failed ??= new CofferError("INTERRUPTED", "The check workers were stopped.");
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}
