import { closeSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { collectGarbageIfGrown, collectYoungGarbage, trimAfterCollections } from "../core/gc.js";
import { crypterFromKey } from "../crypto/aead.js";
import { blobId, idKeyOf } from "../repository/blob-id.js";
import { BlobOpener } from "../repository/blob-opener.js";
import { applyFdMeta, loadNative } from "./native.js";
import { BLOB_FIELDS, MAX_RANGE, type FileMeta, type FromRestoreWorker, type RestoreWorkerInit, TARGET_FIELDS, type ToRestoreWorker, type VerifyFile, type VerifyOutcome, type WriteJob, type WriteOutcome } from "./restore-protocol.js";
import { createFileNoFollow, openForReadNoFollow, openForWriteNoFollow } from "./safe-path.js";

/**
 * A restore worker: reads a pack range (from a local repository, into one reusable buffer) or
 * takes the bytes the main thread fetched, opens, decompresses and checks each blob against
 * its id, then writes it with positioned writes into every (file, offset) that needs it. A
 * file whose bytes are all in one job is created here (O_CREAT|O_EXCL|O_NOFOLLOW) and finished
 * (size, owner, mode, times); others were created and sized by the main thread and are opened
 * with O_NOFOLLOW. An all-zero blob is not written, so the holes of a sparse file stay holes.
 */
const init = workerData as RestoreWorkerInit;
const port = parentPort!;
const crypter = crypterFromKey(init.key);
const idKey = idKeyOf(init.idKey);
const native = loadNative();
trimAfterCollections();
const MAX_OPEN = 64;
/** File number → path, and the open fds (in least-recently-used order). */
const paths = new Map<number, Buffer>();
const fds = new Map<number, number>();

/**
 * Each blob's decryption allocates a buffer V8 frees only when it collects, which a worker
 * with few JS objects rarely does: dead buffers made most of the restore's peak memory. They
 * die young, so a collection of the young generation (a millisecond or two, against tens for
 * a full one) frees them; one runs every COLLECT bytes, between jobs (nothing of a job is
 * alive then), and a full one when what it promoted has added up.
 */
const COLLECT = 2 * 1024 * 1024;
let sinceCollect = 0;
/**
 * Allocated once and reused for every job (see BlobOpener): the range read from a local pack
 * (a larger one, which only a damaged index can describe, gets a buffer of its own), and the
 * opener's buffers for the plaintext.
 */
const packBuf = Buffer.allocUnsafe(Math.max(MAX_RANGE, init.maxBlob + 1024));
const opener = new BlobOpener(crypter, idKey, init.maxBlob);

port.on("message", (m: ToRestoreWorker) => {
  try {
    if (m.t === "write") {
      send({ t: "written", job: m.job, ...write(m) });
      collectIfDue();
    }
    else if (m.t === "verify") send({ t: "verified", job: m.job, files: m.files.map(verify) });
    else if (m.t === "close") closeFiles(m.files);
    else {
      closeFiles([...paths.keys(), ...fds.keys()]);
      process.exit(0); // in a worker: ends this thread only
    }
  } catch (err) {
    send({ t: "fatal", message: err instanceof Error ? err.message : String(err), ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) });
  }
});

function collectIfDue(): void {
  if (sinceCollect < COLLECT) return;
  sinceCollect = 0;
  collectYoungGarbage();
  collectGarbageIfGrown(2 * 1024 * 1024);
}

function send(m: FromRestoreWorker): void {
  port.postMessage(m);
}

/** Files this worker must create (nothing is at their place yet). */
const toCreate = new Set<number>();

function fdOf(file: number): number {
  let fd = fds.get(file);
  if (fd !== undefined) {
    fds.delete(file);
    fds.set(file, fd);
    return fd;
  }
  const path = paths.get(file);
  if (!path) throw new Error(`no path for file ${file}`);
  fd = toCreate.delete(file) ? createFileNoFollow(path) : openForWriteNoFollow(path);
  fds.set(file, fd);
  if (fds.size > MAX_OPEN) {
    const [oldest, ofd] = fds.entries().next().value as [number, number];
    fds.delete(oldest);
    closeSync(ofd);
  }
  return fd;
}

function closeFiles(files: number[]): void {
  for (const f of files) {
    const fd = fds.get(f);
    if (fd !== undefined) {
      fds.delete(f);
      closeSync(fd);
    }
    paths.delete(f);
  }
}

/** The range of a local pack file, in the reusable buffer. */
function readRange(r: NonNullable<WriteJob["read"]>): Buffer {
  const buf = r.length <= packBuf.length ? packBuf : Buffer.allocUnsafe(r.length);
  const fd = openSync(r.path, "r");
  try {
    let done = 0;
    while (done < r.length) {
      const n = readSync(fd, buf, done, r.length - done, r.offset + done);
      if (n === 0) throw new Error(`it ends before byte ${r.offset + r.length}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf.subarray(0, r.length);
}

function write(job: WriteJob): WriteOutcome {
  const out: WriteOutcome = { written: 0, blobErrors: [], fileErrors: [] };
  let data: Buffer;
  if (job.data) data = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  else {
    try {
      data = readRange(job.read as NonNullable<WriteJob["read"]>);
    } catch (err) {
      out.readError = (err as Error).message;
      return out;
    }
  }
  for (const [file, path] of job.paths) paths.set(file, Buffer.from(path.buffer, path.byteOffset, path.byteLength));
  const ids = Buffer.from(job.ids.buffer, job.ids.byteOffset, job.ids.byteLength);
  const failed = new Set<number>();
  // Files of `finish` are finished as soon as their last place is done, so each is opened
  // once and few are open at a time: `left` counts their places not yet done in this job.
  const finish = new Map<number, FileMeta>();
  const left = new Map<number, number>();
  const extent = new Map<number, number>();
  for (const f of job.finish) {
    finish.set(f.file, f);
    left.set(f.file, 0);
    toCreate.add(f.file);
  }
  for (let t = 0; t < job.targets.length; t += TARGET_FIELDS) {
    const f = job.targets[t] as number;
    const l = left.get(f);
    if (l !== undefined) left.set(f, l + 1);
  }
  const placeDone = (file: number): void => {
    const l = left.get(file);
    if (l === undefined) return;
    if (l > 1) {
      left.set(file, l - 1);
      return;
    }
    left.delete(file);
    finishFile(finish.get(file) as FileMeta, extent.get(file) ?? 0, failed, out);
  };
  const n = job.blobs.length / BLOB_FIELDS;
  for (let i = 0; i < n; i++) {
    const b = i * BLOB_FIELDS;
    const off = job.blobs[b] as number;
    const len = job.blobs[b + 1] as number;
    const first = job.blobs[b + 4] as number;
    const count = job.blobs[b + 5] as number;
    const rawLength = job.blobs[b + 2] as number;
    let plain: Buffer | undefined;
    try {
      // The range's bytes are this worker's (read here, or handed over): opened in place.
      plain = opener.open(data.subarray(off, off + len), { id: ids.subarray(i * 32, i * 32 + 32), type: "data", rawLength, compressed: job.blobs[b + 3] === 1 }, `pack ${job.pack.slice(0, 8)}`, true);
      sinceCollect += len;
      if (isZero(plain)) plain = undefined;
    } catch (err) {
      out.blobErrors.push({ blob: i, message: err instanceof Error ? err.message : String(err) });
    }
    for (let t = first; t < first + count; t++) {
      const file = job.targets[t * TARGET_FIELDS] as number;
      if (plain && !failed.has(file)) {
        try {
          const pos = job.targets[t * TARGET_FIELDS + 1] as number;
          writeAll(fdOf(file), plain, pos);
          out.written += plain.length;
          if (pos + plain.length > (extent.get(file) ?? 0)) extent.set(file, pos + plain.length);
        } catch (err) {
          failed.add(file);
          out.fileErrors.push({ file, message: (err as Error).message });
        }
      }
      placeDone(file);
    }
  }
  for (const file of left.keys()) finishFile(finish.get(file) as FileMeta, extent.get(file) ?? 0, failed, out);
  closeFiles(job.close);
  return out;
}

/** Creates the file if no write did, sets its size and metadata, and closes it. */
function finishFile(meta: FileMeta, extent: number, failed: Set<number>, out: WriteOutcome): void {
  if (!failed.has(meta.file)) {
    try {
      const fd = fdOf(meta.file);
      if (extent < meta.size) ftruncateSync(fd, meta.size);
      applyFdMeta(native, fd, meta);
    } catch (err) {
      out.fileErrors.push({ file: meta.file, message: `finishing it failed: ${(err as Error).message}` });
    }
  }
  toCreate.delete(meta.file);
  closeFiles([meta.file]);
}

function writeAll(fd: number, buf: Buffer, pos: number): void {
  for (let done = 0; done < buf.length; ) done += writeSync(fd, buf, done, buf.length - done, pos + done);
}

const ZERO = Buffer.alloc(64 * 1024);
function isZero(b: Buffer): boolean {
  if (b.length === 0 || b[0] !== 0 || b[b.length - 1] !== 0) return false;
  for (let o = 0; o < b.length; o += ZERO.length) {
    const n = Math.min(ZERO.length, b.length - o);
    if (b.compare(ZERO, 0, n, o, o + n) !== 0) return false;
  }
  return true;
}

let readBuf = Buffer.allocUnsafe(1024 * 1024);

/** Re-reads a restored file and checks each content blob's id. */
function verify(f: VerifyFile): VerifyOutcome {
  const path = Buffer.from(f.path.buffer, f.path.byteOffset, f.path.byteLength);
  let fd: number;
  try {
    fd = openForReadNoFollow(path);
  } catch (err) {
    return { file: f.file, bytes: 0, problem: `it cannot be opened: ${(err as Error).message}` };
  }
  let pos = 0;
  try {
    for (let i = 0; i < f.lengths.length; i++) {
      const len = f.lengths[i] as number;
      if (readBuf.length < len) readBuf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const r = readSync(fd, readBuf, got, len - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      if (got < len) return { file: f.file, bytes: pos + got, problem: `it is shorter than the snapshot says (${pos + got} bytes)` };
      const want = Buffer.from(f.ids.buffer, f.ids.byteOffset + i * 32, 32);
      if (!blobId(idKey, readBuf.subarray(0, len)).equals(want)) {
        return { file: f.file, bytes: pos + len, problem: `its content differs from the snapshot at bytes ${pos}–${pos + len}` };
      }
      pos += len;
    }
    if (readSync(fd, readBuf, 0, 1, pos) !== 0) return { file: f.file, bytes: pos, problem: `it is longer than the snapshot says (${pos} bytes)` };
    return { file: f.file, bytes: pos };
  } catch (err) {
    return { file: f.file, bytes: pos, problem: `reading it failed: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}
