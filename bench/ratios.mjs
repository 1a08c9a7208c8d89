// Reads peer.sh TSV rows (tool, step, wall_s, max_rss_mb, note) and prints coffer/restic ratios.
import { readFileSync } from "node:fs";
const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => l.split("\t"));
const by = (tool, step) => rows.find((r) => r[0] === tool && r[1] === step);
const steps = ["init", "backup-initial", "backup-unchanged", "backup-changed", "restore", "check-read-data", "repo-size-mb"];
if (!rows.some((r) => r[0] === "restic") || !rows.some((r) => r[0] === "coffer")) process.exit(0);
console.log("\nstep\tcoffer\trestic\tratio\tcoffer_rss_mb\trestic_rss_mb\trss_ratio");
let peakC = 0, peakR = 0;
for (const s of steps) {
  const c = by("coffer", s), r = by("restic", s);
  if (!c || !r) continue;
  const cv = Number(c[2]), rv = Number(r[2]);
  const cm = Number(c[3]), rm = Number(r[3]);
  peakC = Math.max(peakC, cm); peakR = Math.max(peakR, rm);
  console.log([s, cv, rv, rv ? (cv / rv).toFixed(2) : "-", cm, rm, rm ? (cm / rm).toFixed(2) : "-"].join("\t"));
}
console.log(["peak-memory-mb", peakC, peakR, peakR ? (peakC / peakR).toFixed(2) : "-"].join("\t"));
const cmp = by("coffer", "restore-compare");
if (cmp) console.log(`coffer restore-compare: ${cmp[4]}`);
