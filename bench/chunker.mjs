// Micro-benchmark of the content-defined chunker: prints MB/s of FastCdc.cut over random data,
// through the native addon's loop (native/cdc-cut.c) when it is built, then the JavaScript one.
// Usage: node bench/chunker.mjs [path/to/chunker/index.js] [MiB=256] [rounds=5]
// Default module: ../dist/src/chunker/index.js (after `npm run build`).
// "chunked" counts every byte of input; "scanned" counts only hashed bytes (each chunk skips min).
import { randomFillSync } from "node:crypto";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const arg = process.argv[2];
const modUrl = arg ? pathToFileURL(resolve(arg)).href : new URL("../dist/src/chunker/index.js", import.meta.url).href;
const { FastCdc, DEFAULT_CHUNKER, gearTable } = await import(modUrl);
const mib = Number(process.argv[3] ?? 256);
const rounds = Number(process.argv[4] ?? 5);

const size = mib * 1024 * 1024;
const buf = new Uint8Array(size);
for (let off = 0; off < size; off += 1 << 26) randomFillSync(buf, off, Math.min(1 << 26, size - off));

const params = { ...DEFAULT_CHUNKER, seed: 0x0123456789abcdefn };
function run(c) {
  let pos = 0;
  let scanned = 0;
  let chunks = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  while (pos < size) {
    const len = c.cut(buf, pos, size, true);
    if (len > params.min) scanned += len - params.min;
    pos += len;
    chunks++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cu = process.cpuUsage(c0);
  return { ns, cpuNs: (cu.user + cu.system) * 1000, scanned, chunks };
}

// Rates use wall time; CPU time (user + system of this process) is shown too, since other
// processes on a busy machine inflate wall time but hardly CPU time.
const rate = (bytes, ns) => (bytes / 1e6 / (ns / 1e9)).toFixed(0);
for (const native of [true, false]) {
  const c = new FastCdc(params, { native });
  if (native && !c.native) {
    console.log("native loop: not built (npm run install builds it)");
    continue;
  }
  const name = native ? "native loop" : "JavaScript loop";
  let best = null;
  for (let r = 0; r < rounds; r++) {
    const res = run(c);
    console.log(
      `${name}, round ${r + 1}: ${(res.ns / 1e6).toFixed(0)} ms wall, ${(res.cpuNs / 1e6).toFixed(0)} ms cpu, ${res.chunks} chunks (avg ${(size / res.chunks / 1024).toFixed(0)} KiB): ` +
        `chunked ${rate(size, res.ns)} MB/s, scanned ${rate(res.scanned, res.ns)} MB/s`,
    );
    if (!best || res.ns < best.ns) best = res;
  }
  console.log(
    `${name}, best of ${rounds} over ${mib} MiB (MB = 10^6 bytes): chunked ${rate(size, best.ns)} MB/s, scanned ${rate(best.scanned, best.ns)} MB/s` +
      ` (by cpu time: chunked ${rate(size, best.cpuNs)} MB/s, scanned ${rate(best.scanned, best.cpuNs)} MB/s)`,
  );
}

// For comparison: a plain byte-at-a-time gear loop (same cut points) over the same data.
{
  const gear = new Int32Array(gearTable(params.seed).buffer);
  const maskS = (0xffffffff << 10) | 0;
  const maskL = (0xffffffff << 14) | 0;
  const naiveCut = (s, n) => {
    let h = 0;
    const lim = Math.min(n, params.max);
    for (let k = params.min; k < lim; k++) {
      h = ((h << 1) + gear[buf[s + k]]) | 0;
      if ((h & (k < params.avg ? maskS : maskL)) === 0) return k + 1;
    }
    return lim;
  };
  let best = Infinity;
  let scanned = 0;
  for (let r = 0; r < Math.min(rounds, 3); r++) {
    scanned = 0;
    const t0 = process.hrtime.bigint();
    for (let pos = 0; pos < size; ) {
      const len = size - pos <= params.min ? size - pos : naiveCut(pos, size - pos);
      if (len > params.min) scanned += len - params.min;
      pos += len;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0));
  }
  if (params.avg === 1 << 20) console.log(`naive byte loop, best of ${Math.min(rounds, 3)}: chunked ${rate(size, best)} MB/s, scanned ${rate(scanned, best)} MB/s`);
}
