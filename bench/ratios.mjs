// Reads peer.sh TSV rows (tool, step, wall_s, max_rss_mb, note) and prints coffer/restic ratios.
// bench/s3.sh rows carry CPU seconds (user + sys) in the note column; their ratio is printed too.
// Given several files (rounds of bench/run.sh), prints each round's ratios, then the median
// ratio of each step over the rounds.
import { readFileSync } from "node:fs";

const steps = ["init", "backup-initial", "backup-unchanged", "backup-changed", "restore", "check-read-data", "repo-size-mb"];
const cpu = (r) => (r[4] !== undefined && r[4] !== "" && !Number.isNaN(Number(r[4])) ? Number(r[4]) : undefined);

/** One round's ratios: { step: { c, r, ratio, cm, rm, rssRatio, cc, rc, cpuRatio } }, peak memory, restore check. */
function round(file) {
  const rows = readFileSync(file, "utf8").trim().split("\n").map((l) => l.split("\t"));
  const by = (tool, step) => rows.find((r) => r[0] === tool && r[1] === step);
  if (!rows.some((r) => r[0] === "restic") || !rows.some((r) => r[0] === "coffer")) return undefined;
  const withCpu = rows.some((r) => r[1] !== "restore-compare" && cpu(r) !== undefined);
  const out = { withCpu, steps: new Map(), peakC: 0, peakR: 0, compare: by("coffer", "restore-compare")?.[4] };
  for (const s of steps) {
    const c = by("coffer", s), r = by("restic", s);
    if (!c || !r) continue;
    const e = { c: Number(c[2]), r: Number(r[2]), cm: Number(c[3]), rm: Number(r[3]), cc: cpu(c), rc: cpu(r) };
    out.peakC = Math.max(out.peakC, e.cm);
    out.peakR = Math.max(out.peakR, e.rm);
    out.steps.set(s, e);
  }
  return out;
}

const ratio = (a, b) => (b ? a / b : undefined);
const fixed = (x) => (x === undefined ? "-" : x.toFixed(2));

function print(rd) {
  console.log("\nstep\tcoffer\trestic\tratio\tcoffer_rss_mb\trestic_rss_mb\trss_ratio" + (rd.withCpu ? "\tcoffer_cpu_s\trestic_cpu_s\tcpu_ratio" : ""));
  for (const [s, e] of rd.steps) {
    const row = [s, e.c, e.r, fixed(ratio(e.c, e.r)), e.cm, e.rm, fixed(ratio(e.cm, e.rm))];
    if (rd.withCpu) row.push(e.cc ?? "-", e.rc ?? "-", fixed(e.cc !== undefined ? ratio(e.cc, e.rc) : undefined));
    console.log(row.join("\t"));
  }
  console.log(["peak-memory-mb", rd.peakC, rd.peakR, fixed(ratio(rd.peakC, rd.peakR))].join("\t"));
  if (rd.compare) console.log(`coffer restore-compare: ${rd.compare}`);
}

function median(xs) {
  const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const rounds = process.argv.slice(2).map(round).filter((r) => r !== undefined);
if (rounds.length === 0) process.exit(0);
rounds.forEach((rd, i) => {
  if (rounds.length > 1) process.stdout.write(`\nround ${i + 1}`);
  print(rd);
});
if (rounds.length > 1) {
  console.log(`\nmedian of ${rounds.length} rounds\nstep\tratio\trss_ratio\tratios`);
  for (const s of steps) {
    const es = rounds.map((rd) => rd.steps.get(s)).filter(Boolean);
    if (es.length === 0) continue;
    const rs = es.map((e) => ratio(e.c, e.r));
    console.log([s, fixed(median(rs)), fixed(median(es.map((e) => ratio(e.cm, e.rm)))), rs.map(fixed).join(" ")].join("\t"));
  }
  const peaks = rounds.map((rd) => ratio(rd.peakC, rd.peakR));
  console.log(["peak-memory", fixed(median(peaks)), "", peaks.map(fixed).join(" ")].join("\t"));
  const bad = rounds.map((rd) => rd.compare).filter((c) => c !== undefined && c !== "identical");
  console.log(`coffer restore-compare: ${bad.length === 0 ? "identical in every round" : bad.join(", ")}`);
}
