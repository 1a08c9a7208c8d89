import { Worker } from "node:worker_threads";
import { keepYoungGenerationSmall } from "../core/gc.js";
import type { Repository } from "../repository/repository.js";
import { OldDir } from "./old-dir.js";
import { ParentTrees } from "./parent-trees.js";
import { CONSUMED, CONTROL_BYTES, FAILED, type FromPrefetch, type PrefetchInit, RESUME_AHEAD, STOP, WAITING } from "./tree-prefetch-protocol.js";

const NOT_YET = Symbol("not yet");

interface Batch {
  ids: Buffer;
  lengths: Uint32Array;
  bytes: Buffer;
  /** Next tree to look at, and where its bytes start. */
  at: number;
  offset: number;
}

/**
 * The parent snapshot's trees, read ahead by a worker thread (tree-prefetch-worker.ts) in the
 * order the walk asks for them: opening, decompressing and verifying ~20k small blobs was
 * most of the main thread's work in an unchanged backup. The walk asks for a subsequence of
 * the worker's order (directories that are gone or excluded are skipped), so trees before
 * the one asked for are dropped. A tree the worker could not load, or one not in its order,
 * is loaded here as before.
 */
export class TreePrefetch extends ParentTrees {
  #worker: Worker;
  #control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  #batches: Batch[] = [];
  #consumed = 0;
  #received = 0;
  #ended = false;
  #waiting: (() => void)[] = [];

  constructor(repo: Repository, root: string, localRoot: string) {
    super(repo);
    const init: PrefetchInit = {
      key: repo.masterKey(),
      idKey: repo.idKey,
      root,
      localRoot,
      trees: repo.index.treeLocations(),
      control: this.#control.buffer as SharedArrayBuffer,
    };
    this.#worker = takeSpare() ?? startWorker();
    this.#worker.postMessage(init);
    this.#worker.on("message", (m: FromPrefetch) => {
      if (m.t === "trees") {
        this.#received++;
        this.#batches.push({
          ids: Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength),
          lengths: m.lengths,
          bytes: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength),
          at: 0,
          offset: 0,
        });
      } else {
        this.#ended = true;
      }
      this.#wakeUp();
    });
    // A worker that fails only loses the head start.
    this.#worker.on("error", () => this.#end());
    this.#worker.on("exit", () => this.#end());
  }

  #end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  #wakeUp(): void {
    for (const w of this.#waiting.splice(0)) w();
  }

  override get(id: string): OldDir | undefined | Promise<OldDir | undefined> {
    const found = this.#take(id);
    if (found !== NOT_YET) return found;
    if (this.#ended) return this.load(id);
    return this.#wait(id);
  }

  async #wait(id: string): Promise<OldDir | undefined> {
    for (;;) {
      await new Promise<void>((r) => this.#waiting.push(r));
      const found = this.#take(id);
      if (found !== NOT_YET) return found;
      if (this.#ended) return this.load(id);
    }
  }

  /**
   * The tree `id` from the batches received, dropping every tree before it; NOT_YET when it
   * is not there (yet). A tree the worker could not load is loaded here.
   */
  #take(id: string): OldDir | undefined | Promise<OldDir | undefined> | typeof NOT_YET {
    const want = Buffer.from(id, "hex");
    for (;;) {
      const b = this.#batches[0];
      if (b === undefined) return NOT_YET;
      while (b.at < b.lengths.length) {
        const i = b.at++;
        const len = b.lengths[i] ?? FAILED;
        const start = b.offset;
        if (len !== FAILED) b.offset += len;
        if (b.ids.compare(want, 0, 32, i * 32, i * 32 + 32) !== 0) continue;
        if (b.at === b.lengths.length) this.#consumedOne();
        if (len === FAILED) return this.load(id);
        try {
          return OldDir.decode(b.bytes.subarray(start, start + len));
        } catch {
          return undefined;
        }
      }
      this.#consumedOne();
    }
  }

  #consumedOne(): void {
    this.#batches.shift();
    this.#consumed++;
    Atomics.store(this.#control, CONSUMED, this.#consumed);
    if (Atomics.load(this.#control, WAITING) === 1 && this.#received - this.#consumed <= RESUME_AHEAD) Atomics.notify(this.#control, CONSUMED);
  }

  override async close(): Promise<void> {
    Atomics.store(this.#control, STOP, 1);
    Atomics.notify(this.#control, CONSUMED);
    this.#batches = [];
    await this.#worker.terminate();
  }
}

let spare: Worker | undefined;

function startWorker(): Worker {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const w = new Worker(new URL(`./tree-prefetch-worker.${ext}`, import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  // Once its V8 is set up (which resets the flag), see keepYoungGenerationSmall.
  w.once("online", () => keepYoungGenerationSmall());
  return w;
}

function takeSpare(): Worker | undefined {
  const w = spare;
  spare = undefined;
  w?.ref();
  return w;
}

/**
 * Starts a prefetch worker now, for the next TreePrefetch to take: a worker thread takes
 * some 0.3 s to start, which the walk of an unchanged backup used to wait for; started
 * while the key is derived (scrypt, on another thread), it is ready when the walk begins.
 * It waits, unreferenced (it keeps no process alive), until taken or discarded.
 */
export function prestartTreePrefetch(): void {
  if (spare) return;
  const w = startWorker();
  w.unref();
  // A worker that fails to start is simply not used.
  w.on("error", () => {
    if (spare === w) spare = undefined;
  });
  spare = w;
}

/** Whether a worker prestartTreePrefetch started is waiting to be taken. */
export function hasSpareTreePrefetch(): boolean {
  return spare !== undefined;
}

/** Stops a worker prestartTreePrefetch started that no TreePrefetch took (no parent snapshot). */
export async function discardTreePrefetch(): Promise<void> {
  const w = takeSpare();
  await w?.terminate();
}
