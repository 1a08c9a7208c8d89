import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { crypterFromKey } from "../crypto/aead.js";
import { decodeBlob } from "../repository/blob.js";
import { decodeHeader, parsePackTail } from "../repository/pack.js";
import type { CheckWorkerInit, FromCheckWorker, PackVerdict, ToCheckWorker, VerifyPack } from "./check-protocol.js";
import { describeDiff, diffEntries } from "./pack-header.js";

/**
 * A `check --read-data` worker: all the CPU-heavy work of verifying a pack (SHA-256 of the
 * whole pack, opening the header, AES-GCM, zstd and the HMAC of every blob) happens here.
 * Messages are handled one at a time; the main thread bounds how many wait.
 */
const init = workerData as CheckWorkerInit;
const port = parentPort!;
const crypter = crypterFromKey(init.key);
const idKey = Buffer.from(init.idKey);

port.on("message", (m: ToCheckWorker) => {
  let out: FromCheckWorker;
  try {
    out = { t: "verdict", ...verify(m) };
  } catch (err) {
    out = { t: "fatal", seq: m.seq, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(out);
});

function verify(m: VerifyPack): PackVerdict {
  const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  const where = `pack ${m.id.slice(0, 8)}`;
  const entries = decodeHeader(Buffer.from(m.entries.buffer, m.entries.byteOffset, m.entries.byteLength), `the index entries of ${where}`);
  const verdict: PackVerdict = { seq: m.seq, failed: [] };

  const hash = createHash("sha256").update(bytes).digest("hex");
  if (hash !== m.id) verdict.badHash = hash;

  let dataEnd = bytes.length;
  try {
    const h = parsePackTail(bytes, bytes.length, crypter, m.id);
    dataEnd = bytes.length - 4 - h.headerLength;
    const diff = diffEntries(entries, h.entries);
    if (diff.missing.length || diff.extra.length) verdict.headerProblem = `its header does not match the index: ${describeDiff(diff)}`;
  } catch (err) {
    verdict.headerProblem = err instanceof Error ? err.message : String(err);
  }

  // Blobs are verified where the index says they are: that is where a restore reads them.
  entries.forEach((e, i) => {
    if (e.offset + e.length > dataEnd) {
      verdict.failed.push({ i, message: `${e.type} blob ${e.id.toString("hex").slice(0, 8)} lies outside the data of ${where}` });
      return;
    }
    try {
      decodeBlob(bytes.subarray(e.offset, e.offset + e.length), e, crypter, idKey, where);
    } catch (err) {
      verdict.failed.push({ i, message: err instanceof Error ? err.message : String(err) });
    }
  });
  return verdict;
}
