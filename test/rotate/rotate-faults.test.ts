// Faults during rotation: a full disk (a small tmpfs, and an injected ENOSPC), a read-only
// directory (a tmpfs remounted read-only, and an injected EROFS), a log replaced in the middle of
// its rotation, a copy written to while it is compressed. Each ends with a clear warning and
// every byte still on disk. The tmpfs cases need root (mount); the injected ones run anywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { rotate } from "../../src/rotate/rotate-files.js";
import type { Warning } from "../../src/core/warning.js";
import type { RotateRule } from "../../src/rotate/rule.js";
import { faultyFs, sysError } from "./fault-fs.js";
import { tempDir, writeFileAt } from "./tree-helpers.js";

function mountTmpfs(dir: string, size: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" }).status === 0;
}
function umount(dir: string): void {
  spawnSync("umount", [dir], { stdio: "ignore" });
}
const canMount = ((): string | false => {
  if (process.getuid?.() !== 0) return "needs root to mount a tmpfs";
  return false;
})();

/** Incompressible text lines: gzip makes them a little bigger, never smaller. */
const noise = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64").replace(/(.{76})/g, "$1\n") + "\n";

async function all(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

test("full disk (a 1 MiB tmpfs) while compressing: the copy stays uncompressed, no temporary file is left, NO_SPACE", { skip: canMount }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const content = noise(600 * 1024);
    await writeFileAt(join(mnt, "app.log"), content);
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(mnt, "app.log")], compressAfter: "0h", keep: 1 }], { force: true, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["NO_SPACE"]);
    assert.match(warnings[0]?.message ?? "", /No space left while compressing .*it stays uncompressed, nothing was lost/);
    assert.equal(res.failed, 1);
    const files = await all(mnt);
    assert.equal(files.length, 2, files.join());
    const copy = files.find((f) => f.startsWith("backups/")) as string;
    assert.equal(await readFile(join(mnt, copy), "utf8"), content);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("full disk (a 1 MiB tmpfs) during copytruncate: the log is not truncated and nothing half-written stays", { skip: canMount }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const content = noise(700 * 1024);
    await writeFileAt(join(mnt, "app.log"), content);
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(mnt, "app.log")], mode: "copytruncate", compress: "none" }], { force: true, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["NO_SPACE"]);
    assert.equal(res.rotated.length, 0);
    assert.deepEqual(await all(mnt), ["app.log"]);
    assert.equal(await readFile(join(mnt, "app.log"), "utf8"), content);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("a read-only file system (tmpfs remounted ro): EROFS is reported per log, and the log is untouched", { skip: canMount }, async () => {
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    await writeFileAt(join(mnt, "app.log"), "line\n");
    await mkdir(join(mnt, "backups"));
    assert.equal(spawnSync("mount", ["-o", "remount,ro", mnt]).status, 0);
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(mnt, "app.log")] }], { force: true, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["FAILED"]);
    assert.match(warnings[0]?.message ?? "", /read-only file system; the log was left as it was/);
    assert.equal(res.failed, 1);
    assert.equal(await readFile(join(mnt, "app.log"), "utf8"), "line\n");
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("injected ENOSPC in the middle of writing the .gz: the copy is kept whole and the temporary file removed", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = noise(3 * 1024 * 1024);
    await writeFileAt(join(dir, "app.log"), content);
    let written = 0;
    const fs = faultyFs({
      beforeWrite(path, bytes) {
        if (!basename(path).includes(".gz.coffer-tmp-")) return;
        written += bytes;
        if (written > 1024 * 1024) throw sysError("ENOSPC");
      },
    });
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(dir, "app.log")], compressAfter: "0h", keep: 0 }], { force: true, fs, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["NO_SPACE"]);
    assert.equal(res.failed, 1);
    const files = await all(dir);
    assert.equal(files.length, 2, files.join());
    assert.equal(await readFile(join(dir, files.find((f) => f.startsWith("archive/")) as string), "utf8"), content);
  } finally {
    await cleanup();
  }
});

test("injected EROFS/EACCES on the rename: a warning naming the cause, the log untouched, other logs still rotated", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFileAt(join(dir, "a.log"), "a\n");
    await writeFileAt(join(dir, "b.log"), "b\n");
    const fs = faultyFs({ before: { rename: (args) => { if (String(args[0]).endsWith("a.log")) throw sysError("EACCES", "rename"); } } });
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [join(dir, "*.log")], compress: "none" }], { force: true, fs, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => `${w.code}: ${w.message.replace(dir, "")}`), ["FAILED: Cannot rotate /a.log: permission denied; the log was left as it was."]);
    assert.deepEqual(res.rotated, [join(dir, "b.log")]);
    assert.equal(await readFile(join(dir, "a.log"), "utf8"), "a\n");
  } finally {
    await cleanup();
  }
});

test("a log replaced between its examination and its rotation is left alone, and both files are kept", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    await writeFileAt(log, "old content\n");
    let lstats = 0;
    const fs = faultyFs({
      before: {
        lstat(args) {
          if (args[0] !== log || ++lstats !== 2) return;
          // Another rotator (or the application) moves the log away and starts a new one.
          renameSync(log, join(dir, "app.log.moved-by-someone"));
          writeFileSync(log, "new content\n");
        },
      },
    });
    const warnings: Warning[] = [];
    const res = await rotate([{ files: [log], compress: "none" }], { force: true, fs, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["CHANGED"]);
    assert.match(warnings[0]?.message ?? "", /was replaced after it was examined; it is left alone this run/);
    assert.equal(res.rotated.length, 0);
    assert.equal(await readFile(log, "utf8"), "new content\n");
    assert.equal(await readFile(join(dir, "app.log.moved-by-someone"), "utf8"), "old content\n");
  } finally {
    await cleanup();
  }
});

test("a copy still written to while it is compressed stays uncompressed, whole, for a later run", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const log = join(dir, "app.log");
    await writeFileAt(log, noise(2 * 1024 * 1024));
    let appended = false;
    const fs = faultyFs({
      beforeRead(path) {
        // A writer that has not reopened its file yet appends to the renamed copy.
        if (path.includes("/backups/") && !appended) {
          appended = true;
          appendFileSync(path, "a late line\n");
        }
      },
    });
    const warnings: Warning[] = [];
    const rules: RotateRule[] = [{ files: [log], compressAfter: "0h" }];
    await rotate(rules, { force: true, fs, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["CHANGED"]);
    const [copy] = await readdir(join(dir, "backups"));
    assert.ok(copy && !copy.endsWith(".gz"));
    assert.match(await readFile(join(dir, "backups", copy), "utf8"), /a late line\n$/);
    // The next run compresses it.
    const again = await rotate(rules, {});
    assert.equal(again.actions.find((a) => a.kind === "compress")?.status, "done");
  } finally {
    await cleanup();
  }
});
