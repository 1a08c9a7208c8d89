// Reads peer.sh TSV rows (tool, step, wall_s, max_rss_mb, note) and prints coffer/restic ratios.
// bench/s3.sh rows carry CPU seconds (user + sys) in the note column; their ratio is printed too.
import { readFileSync } from "node:fs";
const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => l.split("\t"));
const by = (tool, step) => rows.find((r) => r[0] === tool && r[1] === step);
const steps = ["init", "backup-initial", "backup-unchanged", "backup-changed", "restore", "check-read-data", "repo-size-mb"];
if (!rows.some((r) => r[0] === "restic") || !rows.some((r) => r[0] === "coffer")) process.exit(0);
const cpu = (r) => (r[4] !== undefined && r[4] !== "" && !Number.isNaN(Number(r[4])) ? Number(r[4]) : undefined);
const withCpu = rows.some((r) => r[1] !== "restore-compare" && cpu(r) !== undefined);
console.log("\nstep\tcoffer\trestic\tratio\tcoffer_rss_mb\trestic_rss_mb\trss_ratio" + (withCpu ? "\tcoffer_cpu_s\trestic_cpu_s\tcpu_ratio" : ""));
let peakC = 0, peakR = 0;
for (const s of steps) {
  const c = by("coffer", s), r = by("restic", s);
  if (!c || !r) continue;
  const cv = Number(c[2]), rv = Number(r[2]);
  const cm = Number(c[3]), rm = Number(r[3]);
  peakC = Math.max(peakC, cm); peakR = Math.max(peakR, rm);
  const row = [s, cv, rv, rv ? (cv / rv).toFixed(2) : "-", cm, rm, rm ? (cm / rm).toFixed(2) : "-"];
  if (withCpu) {
    const cc = cpu(c), rc = cpu(r);
    row.push(cc ?? "-", rc ?? "-", cc !== undefined && rc ? (cc / rc).toFixed(2) : "-");
  }
  console.log(row.join("\t"));
}
console.log(["peak-memory-mb", peakC, peakR, peakR ? (peakC / peakR).toFixed(2) : "-"].join("\t"));
const cmp = by("coffer", "restore-compare");
if (cmp) console.log(`coffer restore-compare: ${cmp[4]}`);
