import { closeSync, fstatSync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { collectGarbage, collectYoungGarbage, trimAfterCollections } from "../core/gc.js";
import { crypterFromKey } from "../crypto/aead.js";
import { CofferError } from "../core/errors.js";
import { decodeJsonFile } from "../repository/file-codec.js";
import { readIndexFileEncoded } from "../repository/index-file.js";
import { decodeHeader, HEADER_ENTRY } from "../repository/pack.js";
import { BlobVerifier } from "./blob-verifier.js";
import type { CheckWorkerInit, FromCheckWorker, ReadIndex, SummarizeTrees, ToCheckWorker, VerifyPack } from "./check-protocol.js";
import { FilePackBytes, MemoryPackBytes, ReadWindow } from "./pack-bytes.js";
import { summarizeTrees, type VerifyOptions, verifyPack } from "./verify-pack.js";
import { idKeyOf } from "../repository/blob-id.js";

/**
 * A `check` worker: all the CPU-heavy work of verifying packs (SHA-256 of every byte, the
 * header, AES-GCM, zstd and the HMAC of every blob), of summarising trees and of parsing
 * index files happens here.
 * A local pack file is read in pieces into one reusable window; messages are handled one at a
 * time, and the main thread bounds how many wait.
 */
const init = workerData as CheckWorkerInit;
const port = parentPort!;
/** Hashed, read and decoded in pieces of this size (cache-friendly; one read call each). */
const PIECE = 1024 * 1024;

/**
 * Opening a blob allocates its plaintext in small pieces (BlobVerifier) where Node's decipher
 * is used (without the native addon's), and tree blobs are decoded whole; V8 frees them only
 * when it collects. Those pieces die young, so a minor collection (a scavenge of a small young
 * generation: well under a millisecond) every 4 MiB opened frees them and keeps the worker's
 * memory flat; a full collection costs tens of milliseconds and runs only after every 4096
 * trees summarised, whose decoded objects outlive a scavenge. After each, the C allocator
 * gives freed pages back (trimAfterCollections).
 */
trimAfterCollections();
let sinceCollect = 0;
let treesSinceCollect = 0;
const crypter = crypterFromKey(init.key);
const idKey = idKeyOf(init.idKey);
const window = new ReadWindow(PIECE + init.maxBlob + crypter.overhead);
const opts: VerifyOptions = {
  crypter,
  idKey,
  blobs: new BlobVerifier(crypter, idKey, init.maxBlob),
  trees: false,
  piece: PIECE,
  packHash: init.packHash,
  allocated(bytes) {
    sinceCollect += bytes;
    if (sinceCollect >= 4 * 1024 * 1024) {
      sinceCollect = 0;
      collectYoungGarbage();
    }
  },
};

port.on("message", (m: ToCheckWorker) => {
  let out: FromCheckWorker;
  const transfer: ArrayBuffer[] = [];
  try {
    out = m.t === "verify" ? verify(m) : m.t === "trees" ? trees(m) : index(m);
    if (out.t === "index") transfer.push(out.counts.buffer as ArrayBuffer, out.entries.buffer as ArrayBuffer);
    const batch = out.t === "verdict" || out.t === "trees" ? out.trees : undefined;
    if (batch) transfer.push(batch.ids.buffer as ArrayBuffer, batch.table.buffer as ArrayBuffer);
    treesSinceCollect += batch ? batch.table.length / 3 : 0;
    if (treesSinceCollect >= 4096) {
      treesSinceCollect = 0;
      collectGarbage();
    }
  } catch (err) {
    out = { t: "fatal", seq: m.seq, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(out, transfer);
});

/** An index file parsed here, so the main thread never holds its JSON; a full collection then drops it. */
function index(m: ReadIndex): FromCheckWorker {
  let file: ReturnType<typeof readIndexFileEncoded>;
  try {
    file = readIndexFileEncoded(decodeJsonFile(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), crypter, `index ${m.id.slice(0, 8)}`, m.id), m.id);
  } catch (err) {
    if (err instanceof CofferError) return { t: "damaged", seq: m.seq, code: err.code, message: err.message };
    throw err;
  }
  const counts = new Uint32Array(file.packs.length);
  const entries = new Uint8Array(file.packs.reduce((n, [, blobs]) => n + blobs.length, 0));
  let o = 0;
  file.packs.forEach(([, blobs], i) => {
    counts[i] = blobs.length / HEADER_ENTRY;
    entries.set(blobs, o);
    o += blobs.length;
  });
  const out: FromCheckWorker = { t: "index", seq: m.seq, packs: file.packs.map(([p]) => p), counts, entries, supersedes: file.supersedes };
  collectGarbage();
  return out;
}

function entriesOf(m: { entries: Uint8Array }, what: string) {
  return decodeHeader(Buffer.from(m.entries.buffer, m.entries.byteOffset, m.entries.byteLength), what);
}

function verify(m: VerifyPack): FromCheckWorker {
  const entries = entriesOf(m, `the index entries of pack ${m.id.slice(0, 8)}`);
  const o = { ...opts, trees: m.trees };
  if (m.bytes) {
    const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
    return { t: "verdict", seq: m.seq, size: bytes.length, ...verifyPack(new MemoryPackBytes(bytes), m.id, entries, o) };
  }
  let fd: number;
  let size: number;
  try {
    fd = openSync(m.path as string, "r");
  } catch (err) {
    return { t: "unreadable", seq: m.seq, message: err instanceof Error ? err.message : String(err) };
  }
  try {
    size = fstatSync(fd).size;
    return { t: "verdict", seq: m.seq, size, ...verifyPack(new FilePackBytes(fd, size, window), m.id, entries, o) };
  } catch (err) {
    // Only reads throw here (verification problems are findings in the verdict).
    return { t: "unreadable", seq: m.seq, message: err instanceof Error ? err.message : String(err) };
  } finally {
    closeSync(fd);
  }
}

function trees(m: SummarizeTrees): FromCheckWorker {
  const entries = entriesOf(m, `the index entries of pack ${m.pack.slice(0, 8)}`);
  const span = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  return { t: "trees", seq: m.seq, trees: summarizeTrees(span, m.base, m.pack, entries, opts) };
}
