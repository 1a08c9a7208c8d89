import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { isCofferError } from "../../src/core/errors.js";
import { createRotatingStream, type RotatingStream } from "../../src/rotate/rotating-stream.js";
import type { Warning } from "../../src/core/warning.js";
import { linesUnder, tempDir, writeFileAt } from "./tree-helpers.js";

const STREAM_JS = fileURLToPath(new URL("../../src/rotate/rotating-stream.js", import.meta.url));

async function finish(s: RotatingStream): Promise<void> {
  s.end();
  await once(s, "close");
  await s.idle();
}

function write(s: RotatingStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => s.write(text, (err) => (err ? reject(err) : resolve())));
}

function assertExactlyOnce(lines: string[], expected: Set<string>): void {
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  const dup = [...seen].filter(([, n]) => n > 1).slice(0, 3);
  assert.deepEqual(dup, [], "lines written twice");
  const missing = [...expected].filter((l) => !seen.has(l)).slice(0, 3);
  assert.deepEqual(missing, [], "lines lost");
  const extra = [...seen.keys()].filter((l) => !expected.has(l)).slice(0, 3);
  assert.deepEqual(extra, [], "lines torn or unknown");
}

test("stress: 4 async writers and a worker thread, thousands of lines, many rotations: every line exactly once across current, rotated and gzipped files", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    const warnings: Warning[] = [];
    const s = createRotatingStream(path, { size: "16k", keep: 4, archiveDir: "archive", compress: "gzip", compressAfter: "0h", archiveKeep: null, archiveMaxAge: null }, { onWarning: (w) => warnings.push(w) });
    const expected = new Set<string>();
    const writer = async (id: number, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const l = `writer ${id} line ${i} ${"=".repeat((i * 7) % 50)}`;
        expected.add(l);
        if (!s.write(l + "\n")) await once(s, "drain");
        if (i % 97 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    const worker = new Worker(
      `const { parentPort } = require("node:worker_threads");
       for (let b = 0; b < 50; b++) {
         const batch = [];
         for (let i = 0; i < 100; i++) batch.push("worker line " + (b * 100 + i) + "\\n");
         parentPort.postMessage(batch.join(""));
       }
       parentPort.postMessage(null);`,
      { eval: true },
    );
    for (let i = 0; i < 5000; i++) expected.add(`worker line ${i}`);
    const fromWorker = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: string | null) => (m === null ? resolve() : void s.write(m)));
      worker.on("error", reject);
    });
    await Promise.all([writer(1, 5000), writer(2, 5000), writer(3, 4000), writer(4, 3000), fromWorker]);
    await worker.terminate();
    await finish(s);
    assert.deepEqual(warnings, []);
    assert.ok(s.rotations > 50, `only ${s.rotations} rotations`);
    const { lines, files } = await linesUnder(dir, "app.log");
    assert.ok(files.some((f) => f.endsWith(".gz")));
    assert.equal((await readdir(join(dir, "backups"))).length, 4);
    assertExactlyOnce(lines, expected);
  } finally {
    await cleanup();
  }
});

test("lines stay whole: a rotation waits for a write that ends a line", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    const s = createRotatingStream(path, { size: 10, keep: 100, archiveDir: null, compress: "none" });
    for (const piece of ["first ", "half ", "and more\n", "second line\n", "third", " line\n"]) await write(s, piece);
    await finish(s);
    const { lines } = await linesUnder(dir, "app.log");
    assert.deepEqual(lines.sort(), ["first half and more", "second line", "third line"]);
  } finally {
    await cleanup();
  }
});

test("strings, Buffers and other encodings keep their order", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    const s = createRotatingStream(path, { size: null, interval: null, compress: "none" });
    s.write("a é\n");
    s.write(Buffer.from("b\n"));
    s.write("632c0a", "hex");
    s.write("d\n");
    await finish(s);
    assert.equal(await readFile(path, "utf8"), "a é\nb\nc,\nd\n");
  } finally {
    await cleanup();
  }
});

test("interval rotation follows a clock across midnight in the zone; a clock going backwards gets counters, not lost lines", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    let now = Date.parse("2026-06-01T21:30:00Z"); // 23:30 in Paris
    const s = createRotatingStream(path, { interval: "daily", timeZone: "Europe/Paris", minSize: null, minAge: null, compress: "none", archiveDir: null, keep: 10 }, { clock: () => new Date(now) });
    await write(s, "before midnight\n");
    now = Date.parse("2026-06-01T21:59:59Z");
    await write(s, "still the first\n");
    now = Date.parse("2026-06-01T22:00:01Z"); // 00:00:01 in Paris
    await write(s, "after midnight\n");
    now = Date.parse("2026-06-02T22:00:01Z");
    await write(s, "next day\n");
    now = Date.parse("2026-06-01T23:00:00Z"); // the clock is set back a day
    s.rotateNow();
    await write(s, "back in time\n");
    s.rotateNow();
    await finish(s);
    // Copies are named by the day their first line was written (in Paris).
    const copy = (name: string): Promise<string> => readFile(join(dir, "backups", name), "utf8");
    assert.deepEqual((await readdir(join(dir, "backups"))).sort(), ["app.log.2026-06-01", "app.log.2026-06-02", "app.log.2026-06-02.1", "app.log.2026-06-03"]);
    assert.equal(await copy("app.log.2026-06-01"), "before midnight\nstill the first\n");
    assert.equal(await copy("app.log.2026-06-02"), "after midnight\n");
    assert.equal(await copy("app.log.2026-06-03"), "next day\n");
    assert.equal(await copy("app.log.2026-06-02.1"), "back in time\n");
    assert.equal(await readFile(path, "utf8"), "");
  } finally {
    await cleanup();
  }
});

test("the min-size guard holds an interval rotation back until the next period", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    let now = Date.parse("2026-06-01T10:00:00Z");
    const s = createRotatingStream(path, { interval: "hourly", timeZone: "UTC", minSize: "1k", minAge: null, compress: "none" }, { clock: () => new Date(now) });
    await write(s, "small\n");
    now += 3_600_000;
    await write(s, "x".repeat(2000) + "\n");
    assert.equal(s.rotations, 0);
    now += 3_600_000;
    await write(s, "next\n");
    assert.equal(s.rotations, 1);
    await finish(s);
  } finally {
    await cleanup();
  }
});

test("flushed on process exit: lines written just before process.exit() are in the file", () => {
  const dirRes = spawnSync("mktemp", ["-d"], { encoding: "utf8" });
  const dir = dirRes.stdout.trim();
  const script = `
    import { createRotatingStream } from ${JSON.stringify(STREAM_JS)};
    const s = createRotatingStream(${JSON.stringify(join(dir, "app.log"))}, { size: "4k", compress: "none", archiveDir: null, keep: 1000 });
    for (let i = 0; i < 2000; i++) s.write("line " + i + "\\n");
    process.exit(0);`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const all = spawnSync("sh", ["-c", `cat ${dir}/app.log ${dir}/backups/* 2>/dev/null | sort -n -k2 | uniq | wc -l; rm -rf ${dir}`], { encoding: "utf8" });
  assert.equal(all.stdout.trim(), "2000");
});

test("exit handlers are registered while open and removed on close; bad rules are INVALID", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const before = process.listenerCount("exit");
    const s = createRotatingStream(join(dir, "a.log"), { compress: "none" });
    assert.equal(process.listenerCount("exit"), before + 1);
    await finish(s);
    assert.equal(process.listenerCount("exit"), before);
    assert.throws(() => createRotatingStream(join(dir, "b.log"), { naming: "numbered" }), (e: unknown) => isCofferError(e, "INVALID"));
    assert.throws(() => createRotatingStream(join(dir, "c.log"), { mode: "copytruncate" }), (e: unknown) => isCofferError(e, "INVALID"));
  } finally {
    await cleanup();
  }
});

test("an existing file is appended to, and rotated on the first write of a new day", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    await writeFileAt(path, "yesterday\n", new Date("2026-06-01T12:00:00Z"));
    const s = createRotatingStream(path, { interval: "daily", timeZone: "UTC", minSize: null, minAge: null, compress: "none" }, { clock: () => new Date("2026-06-02T08:00:00Z") });
    await write(s, "today\n");
    await finish(s);
    assert.equal(await readFile(path, "utf8"), "today\n");
    assert.deepEqual(await readdir(join(dir, "backups")), ["app.log.2026-06-01"]);
  } finally {
    await cleanup();
  }
});
