// zstd alone, on one thread, at the levels a repository could use: the speed and the size
// the compressible part of the benchmark dataset gets (docs/performance.md, "A quiet machine
// with SHA extensions"). Small files are compressed one by one, as a backup's blobs are; the
// rest (logs, the database) in 1 MiB pieces, about a chunk each.
//
//   node bench/zstd.mjs [DATASET_DIR=.bench/data-1/s0] [LEVELS=1,2,3]
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import zbinding from "zstd-napi/binding.js";

const root = process.argv[2] ?? ".bench/data-1/s0";
const levels = (process.argv[3] ?? "1,2,3").split(",").map(Number);
const SMALL = 1024 * 1024;
const pieces = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== join(root, "media")) walk(p); // random bytes: stored raw, never compressed whole
    } else if (e.isFile()) {
      const data = readFileSync(p);
      if (data.length <= SMALL) pieces.push(data);
      else for (let o = 0; o < data.length; o += SMALL) pieces.push(data.subarray(o, o + SMALL));
    }
  }
};
walk(root);
const bytes = pieces.reduce((n, p) => n + p.length, 0);
console.log(`${pieces.length} pieces, ${(bytes / 1e6).toFixed(1)} MB from ${root} (media/ left out)`);
const out = Buffer.allocUnsafe(2 * SMALL);
for (const level of [...levels, ...levels]) {
  const c = new zbinding.CCtx();
  c.setParameter(zbinding.CParameter.compressionLevel, level);
  let size = 0;
  const t = performance.now();
  for (const p of pieces) size += c.compress2(out, p);
  const ms = performance.now() - t;
  console.log(`level ${level}: ${(size / 1e6).toFixed(1)} MB, ${(bytes / 1e3 / ms).toFixed(0)} MB/s`);
}
