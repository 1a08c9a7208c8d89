import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, readFile, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { rotate } from "../../src/rotate/rotate-files.js";
import type { Warning } from "../../src/core/warning.js";
import type { RotateRule } from "../../src/rotate/rule.js";
import { append, linesUnder, readText, tempDir, writeFileAt } from "./tree-helpers.js";

const DAY = 86_400_000;
const line = (tag: string): string => `${tag} ${"x".repeat(90)}\n`;
const kb = (tag: string, n: number): string => Array.from({ length: Math.ceil((n * 1024) / 100) }, (_, i) => line(`${tag}#${i}`)).join("");

test("the seeds' protocol over 45 days: midnight rotations into backups/, archive/ gzipped after 7 days, gone after 30 or beyond 7; no line lost before its time", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "logs", "app.log");
    const rules: RotateRule[] = [{ files: [join(dir, "logs", "*.log")], timeZone: "UTC" }];
    const start = Date.parse("2026-01-01T00:10:00Z");
    await writeFileAt(log, "", new Date(start - DAY));
    await writeFile(join(dir, "state.json"), JSON.stringify({ version: 1, files: { [log]: { lastRotation: new Date(start - DAY).toISOString() } } }));
    for (let d = 0; d < 45; d++) {
      // A day of logging, 6 KB, then the nightly run shortly after midnight.
      await append(log, kb(`day${d}`, 6));
      await utimes(log, new Date(start + d * DAY + 23 * 3_600_000), new Date(start + d * DAY + 23 * 3_600_000));
      const res = await rotate(rules, { now: new Date(start + (d + 1) * DAY), stateFile: join(dir, "state.json") });
      assert.equal(res.failed, 0, JSON.stringify(res.warnings));
      assert.deepEqual(res.rotated, [log], `day ${d}`);
    }
    const backups = (await readdir(join(dir, "logs", "backups"))).sort();
    const archive = (await readdir(join(dir, "logs", "archive"))).sort();
    assert.equal(backups.length, 7);
    assert.ok(backups.every((n) => /^app\.log\.2026-\d\d-\d\d$/.test(n)), backups.join());
    assert.equal(archive.length, 7);
    assert.ok(archive.every((n) => n.endsWith(".gz")), archive.join());
    // Everything from the last 14 days is still there, exactly once.
    const { lines } = await linesUnder(join(dir, "logs"), "app.log");
    for (let d = 31; d < 45; d++) assert.equal(lines.filter((l) => l.startsWith(`day${d}#0 `)).length, 1, `day ${d}`);
    assert.equal(new Set(lines).size, lines.length);
  } finally {
    await cleanup();
  }
});

test("guards: a small or young file is left alone at midnight, a large one rotates on size at any time", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const small = join(dir, "small.log");
    const big = join(dir, "big.log");
    await writeFileAt(small, kb("s", 1), new Date("2026-01-01T20:00:00Z"));
    await writeFileAt(big, kb("b", 5400), new Date("2026-01-01T20:00:00Z"));
    const state = join(dir, "state.json");
    await writeFile(state, JSON.stringify({ version: 1, files: { [small]: { lastRotation: "2026-01-01T00:00:00Z" }, [big]: { lastRotation: "2026-01-02T00:00:00Z" } } }));
    const res = await rotate([{ files: [join(dir, "*.log")], timeZone: "UTC" }], { now: new Date("2026-01-02T00:30:00Z"), stateFile: state });
    const why = Object.fromEntries(res.actions.reverse().map((a) => [a.path, `${a.kind}: ${a.reasons.join("; ")}`]));
    assert.match(why[small] ?? "", /^skip: daily: last rotated 2026-01-01, now 2026-01-02, but under min-size 5\.0 KiB/);
    assert.match(why[big] ?? "", /^rotate: size 5\.[23] MiB ≥ 5\.0 MiB/);
  } finally {
    await cleanup();
  }
});

test("a dry run plans every action with reasons and changes nothing", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    await writeFileAt(log, kb("now", 8));
    for (let i = 1; i <= 3; i++) await writeFileAt(join(dir, `app.log.${i}`), line(`copy ${i}`), new Date(Date.now() - i * DAY));
    const before = (await readdir(dir)).sort();
    const rules: RotateRule[] = [{ files: [log], naming: "numbered", backupsDir: ".", keep: 2, archiveDir: null, compressAfter: "0h", delayCompress: true }];
    const res = await rotate(rules, { dryRun: true, force: true, stateFile: join(dir, "state.json") });
    assert.deepEqual((await readdir(dir)).sort(), before);
    assert.deepEqual(res.actions.filter((a) => a.status !== "planned"), []);
    assert.deepEqual(
      res.actions.map((a) => `${a.kind} ${a.path.slice(dir.length + 1)}${a.to ? ` -> ${a.to.slice(dir.length + 1)}` : ""} (${a.reasons.join("; ")})`),
      [
        "shift app.log.3 -> app.log.4 (numbered copies move up one)",
        "shift app.log.2 -> app.log.3 (numbered copies move up one)",
        "shift app.log.1 -> app.log.2 (numbered copies move up one)",
        "rotate app.log -> app.log.1 (forced)",
        "create app.log (created)",
        "delete app.log.3 (beyond keep 2; no archive-dir)",
        "delete app.log.4 (beyond keep 2; no archive-dir)",
        "compress app.log.2 (compress; not the newest (delay-compress))",
      ],
    );
  } finally {
    await cleanup();
  }
});

test("a name that exists gets the next counter; nothing is overwritten, in backups or in the archive", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    const now = new Date("2026-05-05T12:00:00Z");
    await writeFileAt(log, "new content\n");
    await writeFileAt(join(dir, "backups", "app.log.2026-05-05"), "first of the day\n");
    await writeFileAt(join(dir, "archive", "app.log.2026-05-05.1.gz"), "not really gzip, but taken\n");
    const res = await rotate([{ files: [log], timeZone: "UTC", compress: "none", nameDate: "rotation" }], { now, force: true });
    assert.equal(res.actions[0]?.to, join(dir, "backups", "app.log.2026-05-05.2"));
    assert.match(res.actions[0]?.reasons.join() ?? "", /app\.log\.2026-05-05 exists, counter 2/);
    assert.equal(await readFile(join(dir, "backups", "app.log.2026-05-05"), "utf8"), "first of the day\n");
    assert.equal(await readFile(join(dir, "backups", "app.log.2026-05-05.2"), "utf8"), "new content\n");
  } finally {
    await cleanup();
  }
});

test("a corrupt state file is reported, kept aside and rebuilt from the copies on disk; rotation goes on", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    const state = join(dir, "state.json");
    const now = new Date("2026-05-05T12:00:00Z");
    await writeFileAt(log, kb("x", 8));
    // Rotated an hour ago, by the copy's time: not due again today.
    await writeFileAt(join(dir, "backups", "app.log.2026-05-05"), "earlier\n", new Date(now.getTime() - 3_600_000));
    await writeFileAt(join(dir, "other.log"), kb("y", 8), new Date("2026-05-04T10:00:00Z"));
    await writeFileAt(join(dir, "backups", "other.log.2026-05-04"), "yesterday\n", new Date("2026-05-04T00:05:00Z"));
    await writeFile(state, '{"version":1,"files":{"broken');
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(dir, "*.log")], timeZone: "UTC", minAge: null }], { now, stateFile: state, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["STATE_CORRUPT"]);
    assert.match(warnings[0]?.message ?? "", /rebuilt from the rotated files on disk/);
    assert.deepEqual(res.rotated, [join(dir, "other.log")]);
    assert.equal(await readFile(`${state}.corrupt`, "utf8"), '{"version":1,"files":{"broken');
    const saved = JSON.parse(await readFile(state, "utf8")) as { files: Record<string, { lastRotation: string }> };
    assert.equal(saved.files[join(dir, "other.log")]?.lastRotation, now.toISOString());
  } finally {
    await cleanup();
  }
});

test("the lock: a live holder makes a second rotator wait, then LOCKED; a dead one's lock is stale and taken over", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    const state = join(dir, "state.json");
    await writeFileAt(log, "x\n");
    const rules: RotateRule[] = [{ files: [log], compress: "none" }];
    await writeFile(`${state}.lock`, `${process.pid} ${(await import("node:os")).hostname()} 2026-01-01T00:00:00Z\n`);
    const t = Date.now();
    await assert.rejects(rotate(rules, { force: true, stateFile: state, lockTimeoutMs: 300 }), (e: unknown) => isCofferError(e, "LOCKED") && /process \d+/.test(e.message));
    assert.ok(Date.now() - t >= 300);
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    await writeFile(`${state}.lock`, `${dead} ${(await import("node:os")).hostname()} 2026-01-01T00:00:00Z\n`);
    const warnings: Warning[] = [];
    const res = await rotate(rules, { force: true, stateFile: state, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["STALE_LOCK"]);
    assert.equal(res.rotated.length, 1);
    await assert.rejects(stat(`${state}.lock`), /ENOENT/);
  } finally {
    await cleanup();
  }
});

test("two rotators at once: the second waits for the first and then finds nothing due", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    await writeFileAt(log, kb("x", 6000));
    const rules: RotateRule[] = [{ files: [log], size: "5M", compress: "gzip", compressAfter: "0h" }];
    const opts = { stateFile: join(dir, "state.json") };
    const [a, b] = await Promise.all([rotate(rules, opts), rotate(rules, opts)]);
    assert.equal(a.rotated.length + b.rotated.length, 1);
    const { lines } = await linesUnder(dir, "app.log");
    assert.equal(lines.length, new Set(lines).size);
    assert.equal(lines.length, Math.ceil((6000 * 1024) / 100));
  } finally {
    await cleanup();
  }
});

test("a clock gone backwards (last rotation days ahead): a warning, a rotation, and no copy lost", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    const state = join(dir, "state.json");
    const now = new Date("2026-05-05T12:00:00Z");
    await writeFileAt(log, kb("today", 8));
    // Copies written while the clock was three days ahead.
    await writeFileAt(join(dir, "backups", "app.log.2026-05-08"), "from the future\n", new Date("2026-05-08T00:05:00Z"));
    await writeFile(state, JSON.stringify({ version: 1, files: { [log]: { lastRotation: "2026-05-08T00:05:00Z" } } }));
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [log], timeZone: "UTC", minAge: null, keep: 1, archiveDir: "archive", compress: "none" }], { now, stateFile: state, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["CLOCK_BACKWARDS"]);
    assert.deepEqual(res.rotated, [log]);
    // The copy just made stays in backups/ (it is the newest, whatever the names say); the other is archived, not lost.
    assert.deepEqual(await readdir(join(dir, "backups")), ["app.log.2026-05-05"]);
    assert.deepEqual(await readdir(join(dir, "archive")), ["app.log.2026-05-08"]);
  } finally {
    await cleanup();
  }
});

test("missing logs fail unless missing-ok; symbolic links are left alone; a log in two rules is rotated once", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFileAt(join(dir, "real.log"), "x\n");
    await symlink(join(dir, "real.log"), join(dir, "link.log"));
    const warnings: Warning[] = [];
    const res = await rotate(
      [
        { name: "a", files: [join(dir, "gone.log"), join(dir, "link.log")] },
        { name: "b", files: [join(dir, "nothing-*.log")], missingOk: true },
        { name: "c", files: [join(dir, "real.log")], compress: "none" },
        { name: "d", files: [join(dir, "real.log")] },
      ],
      { force: true, onWarning: (w) => warnings.push(w) },
    );
    // The logs of a rule are examined several at a time, so their warnings come in the order the work finished.
    assert.deepEqual(warnings.map((w) => `${w.code} ${w.path?.slice(dir.length + 1)}`).sort(), ["MISSING gone.log", "SKIPPED link.log", "SKIPPED real.log"]);
    assert.equal(res.failed, 1);
    assert.deepEqual(res.rotated, [join(dir, "real.log")]);
    assert.ok(res.actions.some((a) => a.rule === "b" && a.reasons[0] === "missing (missing-ok)"));
  } finally {
    await cleanup();
  }
});

test("post-rotate command per log and a signal to the pid in a pid file", async () => {
  const { dir, cleanup } = await tempDir();
  let hups = 0;
  const onHup = (): void => void hups++;
  process.on("SIGHUP", onHup);
  try {
    await writeFileAt(join(dir, "a.log"), "a\n");
    await writeFileAt(join(dir, "app.pid"), `${process.pid}\n`);
    const res = await rotate(
      [{ files: [join(dir, "a.log")], compress: "none", postRotate: `echo "$1 -> $2" > ${join(dir, "post.txt")}`, signal: { pidFile: join(dir, "app.pid") } }],
      { force: true },
    );
    assert.equal(res.failed, 0, JSON.stringify(res.warnings));
    assert.equal(await readFile(join(dir, "post.txt"), "utf8"), `${join(dir, "a.log")} -> ${res.actions[0]?.to}\n`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(hups, 1);
    const failing = await rotate([{ files: [join(dir, "a.log")], ifEmpty: true, compress: "none", postRotate: "echo oops >&2; exit 3" }], { force: true });
    assert.equal(failing.failed, 1);
    assert.match(failing.warnings[0]?.message ?? "", /exited with status 3: oops/);
  } finally {
    process.off("SIGHUP", onHup);
    await cleanup();
  }
});

test("an abort stops before the next log; what was rotated is in the state, the rest untouched", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const n of ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]) await writeFileAt(join(dir, `${n}.log`), `${n}\n`);
    const controller = new AbortController();
    const state = join(dir, "state.json");
    const progress = { update: () => controller.abort(), done: () => {} };
    const rules: RotateRule[] = [{ files: [join(dir, "*.log")], compress: "none", postRotate: "true" }];
    await assert.rejects(rotate(rules, { force: true, stateFile: state, signal: controller.signal, progress }), { name: "AbortError" });
    const saved = Object.keys((JSON.parse(await readFile(state, "utf8")) as { files: object }).files);
    const rotated = (await readdir(join(dir, "backups"))).map((n) => join(dir, n.replace(/\.\d{4}-.*$/, "")));
    assert.deepEqual(saved, rotated);
    assert.equal(rotated.length, 1);
    await assert.rejects(stat(`${state}.lock`), /ENOENT/);
  } finally {
    await cleanup();
  }
});

test("zstd compression, and copytruncate keeps the log's inode and mode", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    await writeFileAt(log, kb("z", 20));
    const { ino } = await stat(log);
    const res = await rotate([{ files: [log], mode: "copytruncate", compress: "zstd", compressAfter: "0h", compressLevel: 19, keep: 0, archiveDir: "old" }], { force: true });
    assert.equal(res.failed, 0);
    const [name] = await readdir(join(dir, "old"));
    assert.match(name ?? "", /^app\.log\.\d{4}-\d\d-\d\d\.zst$/);
    assert.equal(await readText(join(dir, "old", name as string)), kb("z", 20));
    assert.equal((await stat(log)).ino, ino);
    assert.equal((await stat(log)).size, 0);
  } finally {
    await cleanup();
  }
});
