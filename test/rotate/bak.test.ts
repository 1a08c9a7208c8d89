import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { makeBak, parseBakName } from "../../src/rotate/bak.js";
import { cleanBaks, listBaks } from "../../src/rotate/bak-clean.js";
import { installBakHook } from "../../src/rotate/bak-hook.js";
import { restoreBak } from "../../src/rotate/bak-restore.js";
import type { Warning } from "../../src/core/warning.js";
import { fillDisk, mountTmpfs, needsRoot, remountReadOnly, umount } from "../records/mount-helpers.js";
import { faultyFs } from "./fault-fs.js";
import { tempDir } from "./tree-helpers.js";

const at = (s: string): Date => new Date(s);
const baks = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.includes(".bak.")).sort();

function gitRepo(dir: string): (...args: string[]) => string {
  const run = (...args: string[]): string => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
  run("init", "-q", "-b", "main");
  return run;
}

test("parseBakName reads time, counter and tag; a bak of a bak copies the bak", () => {
  assert.deepEqual({ ...parseBakName("a.py.bak.20251106_201045.abc12345"), named: undefined }, { of: "a.py", named: undefined, counter: 0, tag: "abc12345" });
  assert.equal(parseBakName("a.py.bak.20251106_201045_2")?.counter, 2);
  assert.equal(parseBakName("x.bak.20250101_000000.bak.20250102_000000")?.of, "x.bak.20250101_000000");
  assert.equal(parseBakName("a.py.bak"), undefined);
  assert.equal(parseBakName("a.py.bak.20251399_000000"), undefined);
});

test("makeBak: FILE.bak.YYYYMMDD_HHMMSS[.TAG], mode and mtime kept, newest 3 kept per file with reasons", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "knowledge_engine.py");
    await writeFile(f, "v1");
    await chmod(f, 0o600);
    await utimes(f, at("2020-01-01T00:00:00Z"), at("2020-01-01T00:00:00Z"));
    const [r1] = await makeBak([f], { tag: "abc12345", now: at("2025-11-06T20:10:45") });
    assert.equal(r1?.bak, join(dir, "knowledge_engine.py.bak.20251106_201045.abc12345"));
    const st = await stat(r1?.bak as string);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.mtime.toISOString(), "2020-01-01T00:00:00.000Z");
    await makeBak([f], { now: at("2025-11-06T20:15:30") });
    await makeBak([f], { now: at("2025-11-06T20:20:00") });
    const [r4] = await makeBak([f], { now: at("2025-11-06T20:25:00") });
    assert.deepEqual(await baks(dir), ["knowledge_engine.py.bak.20251106_201530", "knowledge_engine.py.bak.20251106_202000", "knowledge_engine.py.bak.20251106_202500"]);
    assert.deepEqual(r4?.copies.map((d) => `${d.item.name}: ${d.reasons.join(",")}`), [
      "knowledge_engine.py.bak.20251106_202500: newest 3 (keep)",
      "knowledge_engine.py.bak.20251106_202000: newest 3 (keep)",
      "knowledge_engine.py.bak.20251106_201530: newest 3 (keep)",
      "knowledge_engine.py.bak.20251106_201045.abc12345: beyond keep 3",
    ]);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith(".")), [], "no temporary file left");
  } finally {
    await cleanup();
  }
});

test("name collision: two copies in the same second get a counter; nothing is overwritten", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "a.txt");
    await writeFile(f, "1");
    const warnings: Warning[] = [];
    await makeBak([f], { now: at("2026-11-20T12:00:00"), keep: 10 });
    await writeFile(f, "2");
    await makeBak([f], { now: at("2026-11-20T12:00:00"), keep: 10, onWarning: (w) => warnings.push(w) });
    await writeFile(f, "3");
    await makeBak([f], { now: at("2026-11-20T12:00:00"), keep: 10 });
    assert.deepEqual(await baks(dir), ["a.txt.bak.20261120_120000", "a.txt.bak.20261120_120000_1", "a.txt.bak.20261120_120000_2"]);
    assert.deepEqual(await Promise.all((await baks(dir)).map((n) => readFile(join(dir, n), "utf8"))), ["1", "2", "3"]);
    assert.deepEqual(warnings.map((w) => w.code), ["COLLISION"]);
    // A name taken between the listing and the link (another process) is not overwritten either.
    let raced = false;
    const fs = faultyFs({ before: { link: (args) => void (!raced && ((raced = true), writeFileSync(String(args[1]), "foreign"))) } });
    const [r] = await makeBak([f], { fs, now: at("2026-11-20T12:00:01"), keep: 10 });
    assert.equal(r?.bak, join(dir, "a.txt.bak.20261120_120001_1"));
    assert.equal(await readFile(join(dir, "a.txt.bak.20261120_120001"), "utf8"), "foreign");
  } finally {
    await cleanup();
  }
});

test("makeBak checks every file first: a missing one is PATH_MISSING and no copy is made; a bad tag is INVALID", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, "a"), "a");
    await assert.rejects(makeBak([join(dir, "a"), join(dir, "missing")]), (e) => isCofferError(e, "PATH_MISSING"));
    await assert.rejects(makeBak([join(dir, "a")], { tag: "../x" }), (e) => isCofferError(e, "INVALID"));
    assert.deepEqual(await baks(dir), []);
  } finally {
    await cleanup();
  }
});

test("a clock that goes backwards: warned, and the new copy is kept as the newest (the oldest-named one goes)", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "a.txt");
    await writeFile(f, "x");
    await makeBak([f], { now: at("2026-11-20T12:00:00"), keep: 2 });
    await makeBak([f], { now: at("2026-11-20T13:00:00"), keep: 2 });
    const warnings: Warning[] = [];
    const [r] = await makeBak([f], { now: at("2026-01-01T00:00:00"), keep: 2, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["CLOCK_BACKWARDS"]);
    assert.deepEqual(await baks(dir), ["a.txt.bak.20260101_000000", "a.txt.bak.20261120_130000"]);
    assert.deepEqual(r?.removed, [join(dir, "a.txt.bak.20261120_120000")]);
  } finally {
    await cleanup();
  }
});

test("restoreBak puts the newest (or --from) copy back and first keeps the current content as a pre-restore copy", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "cfg.yaml");
    await writeFile(f, "good");
    await makeBak([f], { now: at("2026-11-20T12:00:00") });
    await writeFile(f, "better");
    await makeBak([f], { now: at("2026-11-20T12:30:00") });
    await writeFile(f, "broken");
    await chmod(f, 0o640);
    const r = await restoreBak(f, { now: at("2026-11-20T13:00:00") });
    assert.equal(r.from, join(dir, "cfg.yaml.bak.20261120_123000"));
    assert.equal(r.saved, join(dir, "cfg.yaml.bak.20261120_130000.pre-restore"));
    assert.equal(await readFile(f, "utf8"), "better");
    assert.equal(await readFile(r.saved as string, "utf8"), "broken");
    assert.equal((await stat(f)).mode & 0o777, 0o640);
    const r2 = await restoreBak(f, { from: "cfg.yaml.bak.20261120_120000", now: at("2026-11-20T13:00:01") });
    assert.equal(await readFile(f, "utf8"), "good");
    assert.equal(await readFile(r2.saved as string, "utf8"), "better");
    await assert.rejects(restoreBak(f, { from: "other.bak.20261120_120000" }), (e) => isCofferError(e, "NOT_FOUND") && /its copies are/.test(e.message));
    await assert.rejects(restoreBak(join(dir, "nocopies")), (e) => isCofferError(e, "NOT_FOUND"));
  } finally {
    await cleanup();
  }
});

test("listBaks counts copies and bytes per file, in sub-folders, not in .git or node_modules; a missing file is marked", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await mkdir(join(dir, "src"));
    await mkdir(join(dir, "node_modules"));
    await writeFile(join(dir, "src", "a.py"), "12345");
    await makeBak([join(dir, "src", "a.py")], { now: at("2026-11-20T12:00:00") });
    await makeBak([join(dir, "src", "a.py")], { now: at("2026-11-20T12:00:01") });
    await writeFile(join(dir, "gone.txt.bak.20261120_120000"), "abc");
    await writeFile(join(dir, "node_modules", "x.bak.20261120_120000"), "abc");
    const groups = await listBaks(dir);
    assert.deepEqual(groups.map((g) => [g.file.slice(dir.length + 1), g.exists, g.copies.length, g.bytes]), [
      ["gone.txt", false, 1, 3],
      ["src/a.py", true, 2, 10],
    ]);
  } finally {
    await cleanup();
  }
});

test("cleanBaks --committed: only copies of files committed and unchanged in git go; modified, staged, untracked ones stay with reasons", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const git = gitRepo(dir);
    for (const n of ["clean.py", "modified.py", "staged.py"]) await writeFile(join(dir, n), "v1");
    git("add", "clean.py", "modified.py", "staged.py");
    git("commit", "-qm", "one");
    await writeFile(join(dir, "untracked.py"), "u");
    await writeFile(join(dir, "modified.py"), "v2");
    await writeFile(join(dir, "staged.py"), "v2");
    git("add", "staged.py");
    for (const n of ["clean.py", "modified.py", "staged.py", "untracked.py"]) await makeBak([join(dir, n)], { now: at("2026-11-20T12:00:00") });
    const dry = await cleanBaks(dir, { committed: true, dryRun: true });
    assert.deepEqual(dry.removed, [join(dir, "clean.py.bak.20261120_120000")]);
    assert.equal((await baks(dir)).length, 4);
    const res = await cleanBaks(dir, { committed: true });
    assert.deepEqual(res.files.map((f) => `${f.file.slice(dir.length + 1)}: ${f.skipped ?? f.copies[0]?.reasons.join(", ")}`), [
      "clean.py: committed and unchanged in git, beyond keep 0",
      "modified.py: modified since the last commit",
      "staged.py: modified (staged) since the last commit",
      "untracked.py: not tracked by git",
    ]);
    assert.deepEqual(await baks(dir), ["modified.py.bak.20261120_120000", "staged.py.bak.20261120_120000", "untracked.py.bak.20261120_120000"]);
  } finally {
    await cleanup();
  }
});

test("cleanBaks without --committed keeps the newest --keep per file; outside a repository --committed cleans nothing", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "a");
    await writeFile(f, "a");
    for (const t of ["12:00:00", "12:00:01", "12:00:02"]) await makeBak([f], { now: at(`2026-11-20T${t}`) });
    const none = await cleanBaks(dir, { committed: true });
    assert.equal(none.files[0]?.skipped, "not in a git repository");
    assert.equal((await baks(dir)).length, 3);
    const res = await cleanBaks(dir, { keep: 1 });
    assert.deepEqual(res.removed.map((p) => p.slice(dir.length + 1)).sort(), ["a.bak.20261120_120000", "a.bak.20261120_120001"]);
  } finally {
    await cleanup();
  }
});

test("bak hook: installed as a post-commit hook (appended to an existing one, once); a commit cleans the copies; a failing clean never fails the commit", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const git = gitRepo(dir);
    await writeFile(join(dir, ".git", "hooks", "post-commit"), "#!/bin/sh\necho existing-hook >> \"$(git rev-parse --git-dir)/ran\"\n");
    await chmod(join(dir, ".git", "hooks", "post-commit"), 0o755);
    // The hook runs this build's CLI through a small launcher.
    const coffer = join(dir, ".git", "coffer-cli.mjs");
    await writeFile(coffer, `import { main } from ${JSON.stringify(new URL("../../src/cli/main.js", import.meta.url).href)};\nmain(process.argv.slice(2));\n`);
    const r1 = await installBakHook(dir, { command: `'${process.execPath}' '${coffer}'` });
    assert.equal(r1.status, "appended");
    assert.equal((await installBakHook(dir, { command: "coffer" })).status, "present");
    const hook = await readFile(r1.hook, "utf8");
    assert.match(hook, /^#!\/bin\/sh\necho existing-hook/);
    assert.equal(hook.match(/coffer bak hook/g)?.length, 1);
    await writeFile(join(dir, "app.py"), "v1");
    await makeBak([join(dir, "app.py")], { now: at("2026-11-20T12:00:00") });
    git("add", "app.py");
    git("commit", "-qm", "one");
    assert.equal(await readFile(join(dir, ".git", "ran"), "utf8"), "existing-hook\n");
    assert.deepEqual(await baks(dir), [], "the hook removed the copy of the committed file");
    // A clean that fails (here: a command that does not exist) does not fail the commit.
    const broken = join(dir, "broken");
    await mkdir(broken);
    spawnSync("git", ["-C", broken, "init", "-q"]);
    const r2 = await installBakHook(broken, { command: "/nonexistent/coffer" });
    assert.equal(r2.status, "created");
    await writeFile(join(broken, "f"), "x");
    const st = (await stat(r2.hook)).mode & 0o111;
    assert.equal(st, 0o111);
    execFileSync("git", ["-C", broken, "add", "f"]);
    const c = spawnSync("git", ["-C", broken, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
  } finally {
    await cleanup();
  }
});

test("full disk (a tmpfs filled up): NO_SPACE, no copy and no temporary file left, the file unchanged", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const f = join(mnt, "big.bin");
    await writeFile(f, Buffer.alloc(300 * 1024, 7));
    fillDisk(mnt);
    await assert.rejects(makeBak([f], { now: at("2026-11-20T12:00:00") }), (e) => isCofferError(e, "NO_SPACE") && /no copy was made/.test(e.message));
    assert.deepEqual((await readdir(mnt)).sort(), [".filler", "big.bin"]);
    assert.equal((await readFile(f)).length, 300 * 1024);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("a read-only file system: makeBak and restoreBak fail clearly and change nothing", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const f = join(mnt, "a.txt");
    await writeFile(f, "old");
    await makeBak([f], { now: at("2026-11-20T12:00:00") });
    await writeFile(f, "new");
    assert.ok(remountReadOnly(mnt));
    await assert.rejects(makeBak([f]), (e) => isCofferError(e) && /read-only/i.test(e.message));
    await assert.rejects(restoreBak(f), (e) => isCofferError(e) && /read-only/i.test(e.message) && /left as it was/.test(e.message));
    assert.equal(await readFile(f, "utf8"), "new");
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("a file replaced between the copy and the restore: the replacement is what the pre-restore copy keeps", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const f = join(dir, "a.txt");
    await writeFile(f, "one");
    await makeBak([f], { now: at("2026-11-20T12:00:00") });
    const { rename } = await import("node:fs/promises");
    await writeFile(join(dir, "tmp"), "replacement");
    await rename(join(dir, "tmp"), f);
    const r = await restoreBak(f, { now: at("2026-11-20T12:00:01") });
    assert.equal(await readFile(f, "utf8"), "one");
    assert.equal(await readFile(r.saved as string, "utf8"), "replacement");
  } finally {
    await cleanup();
  }
});
