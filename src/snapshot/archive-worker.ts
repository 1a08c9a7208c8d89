import { type BigIntStats, closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { LocalFileWriter } from "../backend/local-file-writer.js";
import { FastCdc } from "../chunker/fastcdc.js";
import { isCofferError } from "../core/errors.js";
import { collectGarbage, trimAfterCollections } from "../core/gc.js";
import { crypterFromKey } from "../crypto/aead.js";
import { blobId, idKeyOf } from "../repository/blob-id.js";
import { compressInto } from "../repository/compress-into.js";
import type { GrowableBytes } from "../repository/growable-bytes.js";
import { memoryPack, PackStreamWriter } from "../repository/pack.js";
import type { FileOutcome, FromWorker, JobFile, ToWorker, WorkerInit } from "./archive-protocol.js";

/**
 * A backup worker: reads files, cuts them into chunks, hashes them, and compresses, seals
 * and packs the chunks the main thread says are new. All CPU-heavy work of a backup is here.
 */
const init = workerData as WorkerInit;
trimAfterCollections();
const port = parentPort!;
const crypter = crypterFromKey(init.key);
const idKey = idKeyOf(init.idKey);
const cdc = new FastCdc({ ...init.chunker, seed: BigInt(`0x${init.chunker.seed}`) });
/** Local repositories: the pack being written straight to its file (see LocalFileWriter). */
let stream: { file: LocalFileWriter; pack: PackStreamWriter } | undefined;
/** Other repositories: the pack being built in memory, for the main thread to upload. */
let memory: { bytes: GrowableBytes; pack: PackStreamWriter } | undefined;
const SEGMENT = 8 * 1024 * 1024;
/**
 * The read buffer. The chunker needs up to `max` bytes in view to cut, but chunks longer than
 * four times the average are vanishingly rare, so the buffer starts at that and grows (up to
 * `max`) only for a chunk that does not fit; the next large file starts small again.
 */
const READ_BUF = Math.min(init.chunker.max, 4 * init.chunker.avg);
const zeroIds = new Map<number, Buffer>();

/**
 * Backups churn through large buffers (file contents, packs) that V8 frees only when it
 * collects, long after they are dead: peak memory was several times the live data. A small
 * worker heap makes a full collection cost a few milliseconds, so one runs for every 32 MiB
 * read or packed (every 16 MiB cost 5 % more CPU for 1.6 MB less at the peak;
 * docs/performance.md).
 */
let bytesSinceCollect = 0;
function collectIfDue(bytes: number): void {
  bytesSinceCollect += bytes;
  if (bytesSinceCollect >= 32 * 1024 * 1024) {
    bytesSinceCollect = 0;
    collectGarbage();
  }
}

/**
 * The buffer of a pack this worker built for a remote repository, back from the main thread
 * once uploaded: the next pack is built in it rather than in new memory (each new 24 MiB
 * buffer cost its pages' faults, and the main thread collections for its external memory).
 */
let spare: ArrayBuffer | undefined;
let waiting: ((m: ToWorker) => void) | undefined;
/** Set by an abort: no more pack files are started. */
let aborted = false;
const queue: ToWorker[] = [];
port.on("message", (m: ToWorker) => {
  if (m.t === "abort") {
    aborted = true;
    stream?.file.abort();
    stream = undefined;
    memory = undefined;
    port.postMessage({ t: "aborted" } satisfies FromWorker);
    return;
  }
  if (m.t === "spare") {
    spare = m.buffer;
    return;
  }
  if (waiting && (m.t === "claims" || m.t === "packAck")) {
    const w = waiting;
    waiting = undefined;
    w(m);
  } else {
    queue.push(m);
    pump();
  }
});

let busy = false;
function pump(): void {
  if (busy) return;
  const m = queue.shift();
  if (!m) return;
  busy = true;
  handle(m)
    .catch((err: unknown) => send(fatal(err)))
    .finally(() => {
      busy = false;
      pump();
    });
}

function fatal(err: unknown): FromWorker {
  return {
    t: "fatal",
    message: err instanceof Error ? err.message : String(err),
    ...(isCofferError(err) ? { code: err.code } : {}),
    ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
  };
}

function send(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function reply<T extends ToWorker["t"]>(t: T): Promise<Extract<ToWorker, { t: T }>> {
  return new Promise((resolve) => {
    waiting = (m) => resolve(m as Extract<ToWorker, { t: T }>);
  });
}

async function handle(m: ToWorker): Promise<void> {
  if (m.t === "job") {
    const files: JobFile[] = [];
    let o = 0;
    for (const n of m.pathLengths) {
      files.push({ path: m.paths.subarray(o, o + n), size: 0 });
      o += n;
    }
    await runJob(m.job, files);
  }
  else if (m.t === "flush") {
    await finishPack();
    send({ t: "flushed" });
  }
}

/** A failure to store (not to read): fatal for the whole backup. */
class StoreError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

interface Pending {
  data: Buffer;
  id: Buffer;
}

/** Chunks hashed but not yet claimed and packed (their bytes are in `buffer`). */
let pending: Pending[] = [];
let pendingBytes = 0;

async function runJob(job: number, files: JobFile[]): Promise<void> {
  const outcomes: FileOutcome[] = [];
  const settle = async (): Promise<void> => {
    if (pending.length === 0) return;
    const ids = Buffer.allocUnsafeSlow(pending.length * 32);
    pending.forEach((p, i) => p.id.copy(ids, i * 32));
    send({ t: "hashes", job, ids });
    const { want } = await reply("claims");
    try {
      for (let i = 0; i < pending.length; i++) {
        if (want[i]) await addToPack(pending[i] as Pending);
      }
    } catch (err) {
      // Storing failed (full disk, I/O error): that ends the backup; it is not a problem
      // with the file being read.
      throw new StoreError(err);
    }
    collectIfDue(pendingBytes);
    pending = [];
    pendingBytes = 0;
  };
  for (const f of files) {
    const ids: Buffer[] = [];
    let outcome: FileOutcome;
    try {
      const r = readChunks(
        f,
        async (data) => {
          const id = chunkId(data);
          ids.push(id);
          pending.push({ data, id });
          pendingBytes += data.length;
          if (pendingBytes >= SEGMENT) await settle();
        },
        settle,
      );
      const res = await r;
      outcome = { ids: Buffer.concat(ids), bytesRead: res.bytesRead, changed: res.changed };
    } catch (err) {
      if (err instanceof StoreError) throw err.cause;
      const e = err as NodeJS.ErrnoException;
      outcome = { ids: new Uint8Array(0), bytesRead: 0, changed: false, error: { code: e.code, message: e.message } };
      // Chunks read before the failure are valid blobs; settle them before their buffer is reused.
      try {
        await settle();
      } catch (e2) {
        throw e2 instanceof StoreError ? e2.cause : e2;
      }
    }
    outcomes.push(outcome);
  }
  await settle();
  const all = Buffer.allocUnsafeSlow(outcomes.reduce((a, o) => a + o.ids.length, 0));
  let at = 0;
  for (const o of outcomes) {
    all.set(o.ids, at);
    at += o.ids.length;
  }
  send(
    { t: "done", job, ids: all, idCounts: outcomes.map((o) => o.ids.length / 32), files: outcomes.map(({ ids: _ids, ...rest }) => rest) },
    [all.buffer as ArrayBuffer],
  );
}

function chunkId(data: Buffer): Buffer {
  // Runs of zeros (sparse files, preallocated space) hash once per length.
  if (data.length >= 4096 && data[0] === 0 && data[data.length - 1] === 0 && isZero(data)) {
    let id = zeroIds.get(data.length);
    if (!id) zeroIds.set(data.length, (id = blobId(idKey, data)));
    return id;
  }
  return blobId(idKey, data);
}

const ZERO = Buffer.alloc(64 * 1024);
function isZero(b: Buffer): boolean {
  for (let o = 0; o < b.length; o += ZERO.length) {
    const n = Math.min(ZERO.length, b.length - o);
    if (b.compare(ZERO, 0, n, o, o + n) !== 0) return false;
  }
  return true;
}

/**
 * Reads a file and calls `emit` for each chunk, in order. Every file is read into this
 * worker's one buffer: a small file right after the bytes of chunks still pending (small
 * files of a batch lie side by side), a larger one from the start once those are settled.
 * `flush` settles every emitted chunk before the bytes under them are reused. Memory per
 * worker stays at this buffer and one compression buffer, whatever the files: a buffer of
 * its own per small file made most of a worker's garbage.
 */
const SMALL = 1024 * 1024;
let buffer: Buffer | undefined;
/** Where the next small file goes: the bytes before it are under pending chunks. */
let fill = 0;
/**
 * The last file's stat, kept only so that one BigIntStats stays alive. Its map is reached
 * from the constructor's only through V8's weak transitions: when no instance survived a full
 * collection (one runs every 32 MiB), the map died, and with it the optimized code of
 * `readChunks` and of fs's stat functions, compiled again each time (`--trace-deopt`: "weak
 * objects", eleven times a worker in an initial backup; docs/performance.md).
 */
let lastStat: BigIntStats | undefined;

async function readChunks(f: JobFile, emit: (chunk: Buffer) => Promise<void>, flush: () => Promise<void>): Promise<{ bytesRead: number; changed: boolean }> {
  const fd = openSync(Buffer.from(f.path), "r");
  try {
    const before = fstatSync(fd, { bigint: true });
    let buf = (buffer ??= Buffer.allocUnsafeSlow(READ_BUF));
    if (pending.length === 0) fill = 0;
    if (!(before.size < BigInt(SMALL) && fill + Number(before.size) + 1 <= buf.length)) {
      await flush();
      fill = 0;
      if (buf.length > READ_BUF) buf = buffer = Buffer.allocUnsafeSlow(READ_BUF);
    }
    let start = fill;
    let end = fill;
    let eof = false;
    let total = 0;
    for (;;) {
      while (!eof && end < buf.length) {
        const n = readSync(fd, buf, end, buf.length - end, null);
        if (n === 0) eof = true;
        end += n;
        total += n;
      }
      let cut: number;
      while (start < end && (cut = cdc.cut(buf, start, end, eof)) > 0) {
        await emit(buf.subarray(start, start + cut));
        start += cut;
      }
      if (eof) break;
      if (start === 0 && end === buf.length) {
        // One chunk longer than the buffer (nothing points into it yet): grow it.
        const grown = Buffer.allocUnsafeSlow(Math.min(buf.length * 2, init.chunker.max));
        buf.copy(grown, 0, 0, end);
        buf = buffer = grown;
        continue;
      }
      // The buffer is full: settle what points into it, keep the tail, read on.
      await flush();
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    fill = end;
    lastStat = fstatSync(fd, { bigint: true });
    const after = lastStat;
    const changed = after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ctimeNs !== before.ctimeNs || BigInt(total) !== before.size;
    return { bytesRead: total, changed };
  } finally {
    closeSync(fd);
  }
}

/**
 * Large blobs are first tried as a 64 KiB sample: data that does not compress there (media,
 * archives, encrypted files) is stored raw without spending a full zstd pass on it.
 */
const SAMPLE = 64 * 1024;
/** Where blobs are compressed (reused: the compressed bytes are sealed into a copy at once). */
let compressed: Buffer | undefined;
function compressBlob(data: Buffer): Buffer | undefined {
  const out = (compressed ??= Buffer.allocUnsafeSlow(Math.max(init.chunker.max, SAMPLE)));
  if (data.length >= SAMPLE * 4) {
    const mid = Math.floor(data.length / 2);
    if (compressInto(data.subarray(mid, mid + SAMPLE), init.level, out) === undefined) return undefined;
  }
  return compressInto(data, init.level, out);
}

async function addToPack(p: Pending): Promise<void> {
  const c = compressBlob(p.data);
  if (init.localRoot) {
    if (aborted) throw new Error("aborted");
    if (!stream) {
      const file = new LocalFileWriter(init.localRoot, "data");
      stream = { file, pack: new PackStreamWriter((b) => file.write(b), init.packHash) };
    }
    try {
      stream.pack.addSealed("data", p.id, c ?? p.data, crypter, p.data.length, c !== undefined);
    } catch (err) {
      // The writer removed its temp file; never write to it again.
      stream.file.abort();
      stream = undefined;
      throw err;
    }
    if (stream.pack.size >= init.packSize) await finishPack();
    return;
  }
  // Room for a full pack and the blob that ends it; the header, when larger, grows it.
  if (!memory) {
    memory = memoryPack(init.packSize + init.chunker.max + 64 * 1024, init.packHash, spare);
    spare = undefined;
  }
  memory.pack.addSealed("data", p.id, c ?? p.data, crypter, p.data.length, c !== undefined);
  if (memory.pack.size >= init.packSize) await finishPack();
}

async function finishPack(): Promise<void> {
  if (stream) {
    // Local repository: the pack is already in its temp file; make it durable under its name
    // (fsync, rename, fsync the directory), then tell the main thread, which indexes it.
    const s = stream;
    stream = undefined;
    const p = s.pack.finish(crypter);
    s.file.commit(p.id);
    const header = new Uint8Array(p.header);
    send({ t: "packSaved", id: p.id, size: p.size, header }, [header.buffer as ArrayBuffer]);
    collectIfDue(p.size);
    return;
  }
  if (!memory) return;
  const m = memory;
  memory = undefined;
  const p = m.pack.finish(crypter);
  const header = new Uint8Array(p.header);
  // The pack's buffer is this pack's alone: it moves to the main thread without a copy.
  const out = m.bytes.view();
  send({ t: "pack", id: p.id, bytes: out, header, ...(p.check ? { check: p.check } : {}) }, [out.buffer as ArrayBuffer, header.buffer as ArrayBuffer]);
  await reply("packAck");
  bytesSinceCollect = 0;
  collectGarbage();
}
