import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { saveVersion, writeVersioned } from "../../src/rotate/write-versioned.js";
import { fillDisk, mountTmpfs, needsRoot, remountReadOnly, umount } from "../records/mount-helpers.js";
import { faultyFs, sysError } from "./fault-fs.js";
import { tempDir } from "./tree-helpers.js";

const at = (s: string): Date => new Date(s);

test("writeVersioned keeps the previous content as {stem}_{YYYY-MM-DD_HHMMSS}_{counter}{ext} and the newest N, with reasons", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "AI_STATUS.md");
    const first = await writeVersioned(f, "v0", { keep: 2, now: at("2026-11-20T12:00:00") });
    assert.equal(first.archived, undefined);
    assert.equal(await readFile(f, "utf8"), "v0");
    await chmod(f, 0o640);
    const r1 = await writeVersioned(f, "v1", { keep: 2, now: at("2026-11-20T12:00:01") });
    assert.equal(r1.archived, join(dir, "archive", "AI_STATUS_2026-11-20_120001_0001.md"));
    assert.equal((await stat(f)).mode & 0o777, 0o640, "the file keeps its mode");
    await writeVersioned(f, "v2", { keep: 2, now: at("2026-11-20T12:00:01") });
    const r3 = await writeVersioned(f, "v3", { keep: 2, now: at("2026-11-20T13:00:00") });
    assert.equal(await readFile(f, "utf8"), "v3");
    assert.deepEqual((await readdir(join(dir, "archive"))).sort(), ["AI_STATUS_2026-11-20_120001_0002.md", "AI_STATUS_2026-11-20_130000_0003.md"]);
    assert.deepEqual(r3.removed, [join(dir, "archive", "AI_STATUS_2026-11-20_120001_0001.md")]);
    assert.deepEqual(r3.versions.map((d) => `${d.item.name} ${d.keep} ${d.reasons.join(",")}`), [
      "AI_STATUS_2026-11-20_130000_0003.md true newest 2 (keep)",
      "AI_STATUS_2026-11-20_120001_0002.md true newest 2 (keep)",
      "AI_STATUS_2026-11-20_120001_0001.md false beyond keep 2",
    ]);
    assert.equal(await readFile(join(dir, "archive", "AI_STATUS_2026-11-20_130000_0003.md"), "utf8"), "v2");
    assert.equal((await stat(join(dir, "archive", "AI_STATUS_2026-11-20_130000_0003.md"))).mode & 0o777, 0o640);
    assert.deepEqual((await readdir(dir)).sort(), ["AI_STATUS.md", "archive"], "no lock or temporary file left");
  } finally {
    await cleanup();
  }
});

test("saveVersion keeps the current content without writing; a missing file is NOT_FOUND; archiveDir is relative to the file", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "results.json");
    await assert.rejects(saveVersion(f, {}), (e) => isCofferError(e, "NOT_FOUND"));
    await writeFile(f, "{}\n");
    const r = await saveVersion(f, { archiveDir: "jsons/archive", now: at("2026-01-02T03:04:05") });
    assert.equal(r.archived, join(dir, "jsons", "archive", "results_2026-01-02_030405_0001.json"));
    assert.equal(await readFile(f, "utf8"), "{}\n");
  } finally {
    await cleanup();
  }
});

test("name collision: a file that appears under the version's name just before it is linked is not overwritten; the next counter is used", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "r.txt");
    await writeFile(f, "old");
    let raced = false;
    const fs = faultyFs({
      before: {
        link: (args) => {
          if (raced) return;
          raced = true;
          writeFileSync(String(args[1]), "foreign");
        },
      },
    });
    const warnings: Warning[] = [];
    const r = await writeVersioned(f, "new", { fs, keep: 10, now: at("2026-11-20T12:00:00"), onWarning: (w) => warnings.push(w) });
    assert.equal(r.archived, join(dir, "archive", "r_2026-11-20_120000_0002.txt"));
    assert.equal(await readFile(join(dir, "archive", "r_2026-11-20_120000_0001.txt"), "utf8"), "foreign");
    assert.equal(await readFile(r.archived, "utf8"), "old");
    assert.equal(await readFile(f, "utf8"), "new");
    assert.deepEqual(warnings.map((w) => w.code), ["COLLISION"]);
  } finally {
    await cleanup();
  }
});

test("a clock that goes backwards: warned, and the newest version is still the one with the highest counter (keep 2 drops the oldest)", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "r.txt");
    await writeFile(f, "a");
    await writeVersioned(f, "b", { keep: 2, now: at("2026-11-20T12:00:00") });
    await writeVersioned(f, "c", { keep: 2, now: at("2026-11-20T12:00:05") });
    const warnings: Warning[] = [];
    const r = await writeVersioned(f, "d", { keep: 2, now: at("2025-01-01T00:00:00"), onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["CLOCK_BACKWARDS"]);
    assert.match(warnings[0]?.message ?? "", /clock went back.*nothing is lost/);
    const names = (await readdir(join(dir, "archive"))).sort();
    assert.deepEqual(names, ["r_2025-01-01_000000_0003.txt", "r_2026-11-20_120005_0002.txt"]);
    assert.equal(await readFile(join(dir, "archive", "r_2025-01-01_000000_0003.txt"), "utf8"), "c");
    assert.deepEqual(r.removed.map((p) => p.slice(dir.length + 1)), ["archive/r_2026-11-20_120000_0001.txt"]);
  } finally {
    await cleanup();
  }
});

test("two writers in the same second (8 child processes, one fixed time): every write is kept once, counters unique", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "out.json");
    await writeFile(f, "original");
    const child = new URL("./versioned-child.js", import.meta.url).pathname;
    const n = 8;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        new Promise<void>((resolve, reject) => {
          const p = spawn(process.execPath, [child, f, `writer-${i}`, "2026-11-20T12:00:00", "100"], { stdio: ["ignore", "ignore", "pipe"] });
          let err = "";
          p.stderr.on("data", (d: Buffer) => (err += d.toString()));
          p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer ${i} exited ${code}: ${err}`))));
        }),
      ),
    );
    const names = (await readdir(join(dir, "archive"))).sort();
    assert.equal(names.length, n);
    assert.ok(names.every((x) => x.startsWith("out_2026-11-20_120000_")), names.join());
    assert.deepEqual(names.map((x) => x.slice(-9, -5)), ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]);
    const contents = [await readFile(f, "utf8"), ...(await Promise.all(names.map((x) => readFile(join(dir, "archive", x), "utf8"))))].sort();
    assert.deepEqual(contents, ["original", ...Array.from({ length: n }, (_, i) => `writer-${i}`)].sort());
    assert.equal(await readFile(join(dir, "archive", names[0] as string), "utf8"), "original");
  } finally {
    await cleanup();
  }
});

test("injected ENOSPC while writing the new content: NO_SPACE, the file and its versions as they were", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "r.txt");
    await writeFile(f, "old");
    const fs = faultyFs({ beforeWrite: (path) => { if (path.includes(".r.txt.coffer-tmp-") && !path.includes("archive")) throw sysError("ENOSPC"); } });
    await assert.rejects(writeVersioned(f, "new", { fs, now: at("2026-11-20T12:00:00") }), (e) => isCofferError(e, "NO_SPACE") && /r\.txt was left as it was/.test(e.message));
    assert.equal(await readFile(f, "utf8"), "old");
    assert.deepEqual(await readdir(join(dir, "archive")), []);
    assert.deepEqual((await readdir(dir)).sort(), ["archive", "r.txt"]);
  } finally {
    await cleanup();
  }
});

test("full disk (a tmpfs filled up): NO_SPACE, the file unchanged, no temporary file left", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const f = join(mnt, "report.txt");
    await writeFile(f, "x".repeat(200 * 1024));
    await mkdir(join(mnt, "archive"));
    fillDisk(mnt);
    await assert.rejects(writeVersioned(f, "y".repeat(200 * 1024), { now: at("2026-11-20T12:00:00") }), (e) => isCofferError(e, "NO_SPACE"));
    assert.equal(await readFile(f, "utf8"), "x".repeat(200 * 1024));
    assert.deepEqual(await readdir(join(mnt, "archive")), []);
    assert.deepEqual((await readdir(mnt)).sort(), [".filler", "archive", "report.txt"]);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("a read-only file system: a clear IO error, nothing changed", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const f = join(mnt, "report.txt");
    await writeFile(f, "old");
    assert.ok(remountReadOnly(mnt));
    await assert.rejects(writeVersioned(f, "new", {}), (e) => isCofferError(e) && /read-only file system/i.test(e.message));
    assert.equal(await readFile(f, "utf8"), "old");
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("a file replaced between two versioned writes is versioned as it is found; a directory at the path is refused", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "r.txt");
    await writeVersioned(f, "a", { now: at("2026-11-20T12:00:00") });
    await writeFile(join(dir, "other"), "replaced");
    const { rename } = await import("node:fs/promises");
    await rename(join(dir, "other"), f);
    const r = await writeVersioned(f, "b", { now: at("2026-11-20T12:00:01") });
    assert.equal(await readFile(r.archived as string, "utf8"), "replaced");
    await assert.rejects(writeVersioned(join(dir, "archive"), "x", {}), (e) => isCofferError(e, "INVALID"));
  } finally {
    await cleanup();
  }
});
