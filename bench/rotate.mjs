// Rotation figures (a script, not a timed test):
//  1. `coffer rotate` over 1,000 log files, each with 7 backups and 7 archived copies: a run
//     where every log is due (rotate, archive, gzip, expire: ~4,000 file operations), a run
//     where none is (the steady state of a cron job), and the same through the CLI process.
//  2. createRotatingStream against a plain fs.createWriteStream: lines per second writing
//     ~100-byte lines with backpressure, with and without rotations (target: ≥ 0.8×).
// Usage: node bench/rotate.mjs [build root = .build/rotate] [lines = 2000000]
import { once } from "node:events";
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(process.argv[2] ?? new URL("../.build/rotate", import.meta.url).pathname);
const LINES = Number(process.argv[3] ?? 2_000_000);
const { rotate, createRotatingStream } = await import(pathToFileURL(join(root, "src/rotate/index.js")).href);
const base = mkdtempSync(join(tmpdir(), "coffer-bench-rotate-"));
const DAY = 86_400_000;
const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
// CPU time too: on a busy machine wall time grows with other processes' load, CPU time hardly.
const cpu = (c0) => {
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1e6).toFixed(2);
};

function makeLogs(dir, n) {
  const text = Array.from({ length: 160 }, (_, i) => `2026-11-20T12:00:00.000Z INFO request ${i} served in 12 ms path=/api/items\n`).join("");
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const d = join(dir, `svc${String(i).padStart(4, "0")}`);
    mkdirSync(join(d, "backups"), { recursive: true });
    mkdirSync(join(d, "archive"), { recursive: true });
    writeFileSync(join(d, "app.log"), text);
    for (let k = 1; k <= 14; k++) {
      const day = new Date(now - k * DAY).toISOString().slice(0, 10);
      const p = k <= 7 ? join(d, "backups", `app.log.${day}`) : join(d, "archive", `app.log.${day}.gz`);
      writeFileSync(p, k <= 7 ? text : "gz");
      utimesSync(p, new Date(now - k * DAY), new Date(now - k * DAY));
    }
  }
}

async function rotateFigures() {
  const dir = join(base, "logs");
  makeLogs(dir, 1000);
  const rules = [{ files: [join(dir, "svc*", "app.log")], size: "8k", minAge: null }];
  const state = join(base, "state.json");
  let t0 = process.hrtime.bigint();
  let c0 = process.cpuUsage();
  const due = await rotate(rules, { stateFile: state });
  const tDue = secs(t0);
  const cDue = cpu(c0);
  const ops = due.actions.filter((a) => a.kind !== "skip").length;
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  const idle = await rotate(rules, { stateFile: state });
  const tIdle = secs(t0);
  const cIdle = cpu(c0);
  console.log(`rotate, 1,000 logs all due:   ${tDue.toFixed(2)} s wall, ${cDue} s CPU (${due.rotated.length} rotated, ${ops} actions, ${(ops / tDue).toFixed(0)} actions/s, ${due.failed} failed)`);
  console.log(`rotate, 1,000 logs none due:  ${tIdle.toFixed(2)} s wall, ${cIdle} s CPU (${idle.rotated.length} rotated, ${idle.files} logs and 14,000 copies examined)`);
  writeFileSync(join(base, "rotate.json"), JSON.stringify({ rotate: rules }));
  const cli = `import(${JSON.stringify(pathToFileURL(join(root, "src/cli/main.js")).href)}).then((m) => m.main(process.argv.slice(1)))`;
  t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["-e", cli, "rotate", "--config", join(base, "rotate.json"), "--state", state, "--json"], { encoding: "utf8" });
  const tCli = secs(t0);
  const doc = JSON.parse(r.stdout || "{}");
  console.log(`coffer rotate (CLI process), 1,000 logs none due: ${tCli.toFixed(2)} s, exit ${r.status}, ${doc.files} files examined`);
}

/** Lines per second, and CPU seconds (this process, all threads). */
async function writeLines(stream, n) {
  const line = "2026-11-20T12:00:00.000Z INFO request served in 12 ms path=/api/items user=12345 status=200\n";
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    if (!stream.write(line)) await once(stream, "drain");
  }
  stream.end();
  await once(stream, "close");
  return { rate: n / secs(t0), cpu: Number(cpu(c0)) };
}

async function streamFigures() {
  const dir = join(base, "stream");
  mkdirSync(dir);
  // Interleaved rounds, median of each: on a shared machine single runs swing by 2×.
  const rounds = 5;
  const runs = { plain: [], rotating: [], rotatingNoRotation: [] };
  const keep = (key, r) => runs[key].push(r);
  for (let r = 0; r < rounds; r++) {
    for (const name of ["plain.log", "big.log", "rot.log"]) rmSync(join(dir, name), { force: true });
    rmSync(join(dir, "backups"), { recursive: true, force: true });
    keep("plain", await writeLines(createWriteStream(join(dir, "plain.log")), LINES));
    keep("rotatingNoRotation", await writeLines(createRotatingStream(join(dir, "big.log"), { size: null, interval: null, compress: "none" }), LINES));
    const s = createRotatingStream(join(dir, "rot.log"), { size: "16M", compress: "none", keep: 100, archiveDir: null });
    keep("rotating", await writeLines(s, LINES));
    if (r === 0) console.log(`(${LINES.toLocaleString("en")} lines of 96 bytes, ${s.rotations} rotations in the rotating run; median of ${rounds} interleaved rounds)`);
  }
  const median = (list) => {
    const by = (k) => [...list].map((x) => x[k]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
    return { rate: by("rate"), cpu: by("cpu") };
  };
  const best = { plain: median(runs.plain), rotating: median(runs.rotating), rotatingNoRotation: median(runs.rotatingNoRotation) };
  const f = (r) => `${Math.round(r.rate).toLocaleString("en")} lines/s, ${r.cpu.toFixed(2)} s CPU`;
  console.log(`fs.createWriteStream:                     ${f(best.plain)}`);
  console.log(`createRotatingStream, no rotation:        ${f(best.rotatingNoRotation)} (${(best.rotatingNoRotation.rate / best.plain.rate).toFixed(2)}×)`);
  console.log(`createRotatingStream, rotating at 16 MiB: ${f(best.rotating)} (${(best.rotating.rate / best.plain.rate).toFixed(2)}×, target ≥ 0.80×)`);
}

try {
  await rotateFigures();
  await streamFigures();
} finally {
  rmSync(base, { recursive: true, force: true });
}
