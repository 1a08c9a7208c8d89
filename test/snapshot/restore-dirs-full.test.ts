import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { backup } from "../../src/snapshot/archiver.js";
import { restore } from "../../src/snapshot/restorer.js";
import { testRepo } from "../helpers/restore-fixtures.js";
import { needsRoot, umount } from "../records/mount-helpers.js";

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), "coffer-restore-dirs-"));
});
after(() => {
  rmSync(base, { recursive: true, force: true });
});

/**
 * When the file system refuses directories (a tmpfs with few inodes), each refused directory
 * is one NO_SPACE error, nothing below it is attempted or reported again, and every file is
 * restored or accounted for.
 */
test("directories the file system refuses (no inodes left): one NO_SPACE error each, nothing below them, the rest restored", { skip: needsRoot }, async () => {
  const src = join(base, "src");
  // top/dNN/sub/file: 30 directories under top, each with a subdirectory and a file.
  for (let i = 0; i < 30; i++) {
    const d = join(src, "top", `d${String(i).padStart(2, "0")}`, "sub");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "file"), `content ${i}\n`);
  }
  const repo = await testRepo();
  const { snapshot } = await backup(repo, { paths: [src], workers: 1 });
  const target = join(base, "target");
  mkdirSync(target);
  // Room for the restore's first directories and some of the rest, not for all 91 entries.
  assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m,nr_inodes=40", "tmpfs", target]).status, 0, "mount a tmpfs");
  try {
    const r = await restore(repo, { snapshot: snapshot!, target, subPath: src, workers: 2 });
    for (const e of r.errors) assert.equal(e.code, "NO_SPACE", e.message);
    // Files in directories that were made may be refused too (they need inodes as well).
    const dirErrors = r.errors.filter((e) => e.message.startsWith("The directory "));
    assert.ok(dirErrors.length > 0, "some directories could not be made");
    for (const e of dirErrors) assert.match(e.message, /could not be created, so nothing in it was restored: ENOSPC/);
    // One error per refused directory, and none for anything below one.
    const refused = dirErrors.map((e) => e.path);
    for (const e of r.errors) assert.ok(!refused.some((q) => e.path.startsWith(`${q}/`)), `${e.path} is below a refused directory`);
    const made = readdirSync(join(target, "top"));
    assert.ok(made.length > 0 && made.length < 30, `${made.length} of 30 made`);
    assert.equal(r.dirs, countDirs(target), "dirs counts the directories made");
    // Every file is restored, or named in an error, or below a refused directory.
    for (let i = 0; i < 30; i++) {
      const dir = join(target, "top", `d${String(i).padStart(2, "0")}`);
      const file = join(dir, "sub", "file");
      const accounted = existsSync(file) || r.errors.some((e) => e.path === file || file.startsWith(`${e.path}/`));
      assert.ok(accounted, `${file}: restored, or an error says why not`);
    }
  } finally {
    umount(target);
  }
});

function countDirs(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) n += 1 + countDirs(join(dir, e.name));
  return n;
}
