import { Worker } from "node:worker_threads";
import { CofferError } from "../core/errors.js";
import { HEADER_ENTRY } from "../repository/pack.js";
import type { Repository } from "../repository/repository.js";
import type { CheckWorkerInit, FromCheckWorker, ToCheckWorker } from "./check-protocol.js";
import type { SummaryBatch } from "./tree-summary.js";
import type { PackVerdict } from "./verify-pack.js";

/**
 * The main-thread side of the `check` workers: hands each job to the worker with the fewest
 * jobs waiting, transferring (not copying) any bytes.
 */
interface Pending {
  resolve(m: FromCheckWorker): void;
  reject(e: unknown): void;
}

interface WorkerState {
  w: Worker;
  pending: Map<number, Pending>;
}

/** A verdict, or the reason a local pack file could not be read (load it through the backend). */
export type VerifyOutcome = ({ size: number } & PackVerdict) | { unreadable: string };

export class CheckPool {
  #workers: WorkerState[] = [];
  #seq = 0;
  #failed: unknown;

  constructor(repo: Repository, workers: number) {
    const init: CheckWorkerInit = { key: repo.masterKey(), idKey: repo.idKey, maxBlob: repo.config.chunker.max, packHash: repo.packHash };
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    for (let i = 0; i < Math.max(1, workers); i++) {
      const w = new Worker(new URL(`./check-worker.${ext}`, import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
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

  /** Verifies one whole pack against its index entries (pack-header encoding): a local file the worker reads, or bytes (unusable afterwards). */
  async verify(id: string, from: { path: string } | { bytes: Buffer }, entries: Uint8Array, trees: boolean): Promise<VerifyOutcome> {
    const seq = ++this.#seq;
    let m: FromCheckWorker;
    if ("path" in from) m = await this.#send({ t: "verify", seq, id, entries, trees, path: from.path }, []);
    else {
      const view = transferable(from.bytes);
      m = await this.#send({ t: "verify", seq, id, entries, trees, bytes: view }, [view.buffer as ArrayBuffer]);
    }
    if (m.t === "unreadable") return { unreadable: m.message };
    if (m.t !== "verdict") throw new CofferError("IO", "A check worker answered out of turn.");
    const { t: _t, seq: _s, ...v } = m;
    return v;
  }

  /** Verifies and summarises the tree blobs (entries in pack-header encoding) in `bytes`, the pack's range from `base` (unusable afterwards). */
  async summarize(pack: string, base: number, bytes: Buffer, entries: Uint8Array): Promise<SummaryBatch> {
    const view = transferable(bytes);
    const m = await this.#send({ t: "trees", seq: ++this.#seq, pack, base, bytes: view, entries }, [view.buffer as ArrayBuffer]);
    if (m.t !== "trees") throw new CofferError("IO", "A check worker answered out of turn.");
    return m.trees;
  }

  /**
   * Opens and parses an index file (`bytes` is unusable afterwards): its packs with their
   * entries (pack-header encoding), and what it supersedes. Throws CofferError (CORRUPT,
   * UNSUPPORTED) when it is damaged, as reading it here would.
   */
  async readIndex(id: string, bytes: Buffer): Promise<{ packs: [string, Buffer][]; supersedes: string[] }> {
    const view = transferable(bytes);
    const m = await this.#send({ t: "index", seq: ++this.#seq, id, bytes: view }, [view.buffer as ArrayBuffer]);
    if (m.t === "damaged") throw new CofferError(m.code, m.message);
    if (m.t !== "index") throw new CofferError("IO", "A check worker answered out of turn.");
    const all = Buffer.from(m.entries.buffer, m.entries.byteOffset, m.entries.byteLength);
    let o = 0;
    const packs = m.packs.map((p, i): [string, Buffer] => {
      const end = o + (m.counts[i] ?? 0) * HEADER_ENTRY;
      const entries = all.subarray(o, end);
      o = end;
      return [p, entries];
    });
    return { packs, supersedes: m.supersedes };
  }

  #send(msg: ToCheckWorker, transfer: ArrayBuffer[]): Promise<FromCheckWorker> {
    if (this.#failed) return Promise.reject(this.#failed);
    const st = this.#workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    return new Promise<FromCheckWorker>((resolve, reject) => {
      st.pending.set(msg.seq, { resolve, reject });
      st.w.postMessage(msg, transfer);
    });
  }

  #onMessage(st: WorkerState, m: FromCheckWorker): void {
    const p = st.pending.get(m.seq);
    if (!p) return;
    st.pending.delete(m.seq);
    if (m.t === "fatal") p.reject(new CofferError("IO", `A check worker failed: ${m.message}`));
    else p.resolve(m);
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

/** Only a buffer that owns its whole ArrayBuffer can be handed over; a pooled one is copied. */
function transferable(bytes: Buffer): Uint8Array {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : new Uint8Array(bytes);
}
