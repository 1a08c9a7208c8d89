import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { parentPort } from "node:worker_threads";
import { handlePath } from "../backend/backend.js";
import { collectGarbage, trimAfterCollections } from "../core/gc.js";
import { crypterFromKey } from "../crypto/aead.js";
import { decodeBlob } from "../repository/blob.js";
import { BATCH_BYTES, CONSUMED, FAILED, type FromPrefetch, MAX_AHEAD, type PrefetchInit, RESUME_AHEAD, STOP, WAITING } from "./tree-prefetch-protocol.js";
import { idKeyOf } from "../repository/blob-id.js";
import { IdTable } from "../repository/id-table.js";

/**
 * Reads the parent snapshot's trees ahead of a backup's walk (see tree-prefetch.ts): depth
 * first, children in name order, each read from its pack with one pread, opened, decompressed
 * and checked against its id. The packs are a local repository's or a remote repository's
 * local cache; a tree whose pack is not there, or that does not verify (a damaged cache
 * entry), is sent as FAILED and loaded by the main thread through the repository. Runs synchronously; Atomics.wait keeps it within MAX_AHEAD
 * batches of the main thread.
 */
const port = parentPort!;
// The work comes in the first message: the worker may be started before it is known.
const init = await new Promise<PrefetchInit>((resolve) => port.once("message", resolve));
trimAfterCollections();
const crypter = crypterFromKey(init.key);
const idKey = idKeyOf(init.idKey);
const control = new Int32Array(init.control);
const locs = init.trees;

/**
 * Where each tree is in `locs`, by id (IdTable: no string per tree; a Map keyed by 21,000
 * hex strings held about 2.5 MB of this thread's heap for the whole walk).
 */
const idBytes = new Uint8Array(locs.ids.buffer, locs.ids.byteOffset, locs.ids.byteLength);
const table = new IdTable(locs.pack.length);
for (let j = 0; j < locs.pack.length; j++) table.insert(idBytes, j);

const fds = new Map<number, number>();
/** Packs that could not be opened (not in the local cache): their trees are left to the main thread. */
const missing = new Set<number>();
function packFd(pack: number): number | undefined {
  let fd = fds.get(pack);
  if (fd === undefined) {
    if (missing.has(pack)) return undefined;
    if (fds.size >= 32) {
      const [oldest, ofd] = fds.entries().next().value as [number, number];
      fds.delete(oldest);
      closeSync(ofd);
    }
    try {
      fd = openSync(join(init.localRoot, handlePath({ type: "data", name: locs.packs[pack] ?? "" })), "r");
    } catch {
      missing.add(pack);
      return undefined;
    }
  } else {
    fds.delete(pack);
  }
  fds.set(pack, fd);
  return fd;
}

/** A tree's plain bytes, or undefined when it cannot be read or does not verify. */
function load(id: Buffer): Buffer | undefined {
  const j = table.find(idBytes, id);
  if (j < 0) return undefined;
  try {
    const length = locs.length[j] ?? 0;
    const fd = packFd(locs.pack[j] ?? 0);
    if (fd === undefined) return undefined;
    const stored = Buffer.allocUnsafe(length);
    if (readSync(fd, stored, 0, length, locs.offset[j] ?? 0) !== length) return undefined;
    const entry = { id, type: "tree" as const, compressed: locs.compressed[j] === 1, rawLength: locs.rawLength[j] ?? 0 };
    return decodeBlob(stored, entry, crypter, idKey, "a tree pack");
  } catch {
    return undefined;
  }
}

let sent = 0;
let ids: Buffer[] = [];
let lengths: number[] = [];
let parts: Buffer[] = [];
let size = 0;

function post(): void {
  if (ids.length === 0) return;
  // Stay within MAX_AHEAD batches of what the main thread has used; once there, sleep until
  // it is RESUME_AHEAD behind (the timeout only guards against a lost wake-up).
  if (sent - Atomics.load(control, CONSUMED) >= MAX_AHEAD) {
    for (;;) {
      const consumed = Atomics.load(control, CONSUMED);
      if (sent - consumed <= RESUME_AHEAD || Atomics.load(control, STOP) !== 0) break;
      Atomics.store(control, WAITING, 1);
      Atomics.wait(control, CONSUMED, consumed, 100);
    }
    Atomics.store(control, WAITING, 0);
  }
  const bytes = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  const batchIds = new Uint8Array(ids.length * 32);
  ids.forEach((b, i) => batchIds.set(b, i * 32));
  const msg: FromPrefetch = { t: "trees", ids: batchIds, lengths: Uint32Array.from(lengths), bytes };
  port.postMessage(msg, [bytes.buffer as ArrayBuffer, batchIds.buffer as ArrayBuffer, msg.lengths.buffer as ArrayBuffer]);
  sent++;
  // This thread never returns to its event loop while it walks, and what it promotes stays
  // until a full collection: one every 16 batches (2 MiB of trees) keeps its heap flat.
  if (sent % 16 === 0) collectGarbage();
  ids = [];
  lengths = [];
  parts = [];
  size = 0;
}

const SUBTREE = Buffer.from('"subtree":"');
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The subtree ids of a tree, in node order, found without parsing it (JSON.parse of every
 * tree made most of this thread's garbage). In valid JSON the bytes `"subtree":"` can only
 * be that key with a string value: a quote inside a string is escaped. A tree that is not
 * valid JSON fails on the main thread; whatever is found in it here is only read ahead.
 */
function subtrees(plain: Buffer): string[] {
  const out: string[] = [];
  for (let at = plain.indexOf(SUBTREE); at >= 0; at = plain.indexOf(SUBTREE, at + SUBTREE.length)) {
    const start = at + SUBTREE.length;
    const id = plain.toString("latin1", start, start + 64);
    if (plain[start + 64] === 0x22 && HEX64.test(id)) out.push(id);
  }
  return out;
}

function walk(): void {
  const stack = [init.root];
  while (stack.length > 0 && Atomics.load(control, STOP) === 0) {
    const id = Buffer.from(stack.pop() as string, "hex");
    const plain = load(id);
    ids.push(id);
    if (plain === undefined) {
      lengths.push(FAILED);
    } else {
      lengths.push(plain.length);
      parts.push(plain);
      size += plain.length;
      const subs = subtrees(plain);
      for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i] as string);
    }
    if (size >= BATCH_BYTES || ids.length >= 4096) post();
  }
  post();
}

try {
  walk();
} finally {
  for (const fd of fds.values()) closeSync(fd);
  port.postMessage({ t: "end" } satisfies FromPrefetch);
}
