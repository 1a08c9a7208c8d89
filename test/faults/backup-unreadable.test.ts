import assert from "node:assert/strict";
import { chmodSync, chownSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestTree, restoredDigest, type Sandbox, sandbox, snapshots, textBytes, writeFile } from "./fault-helpers.js";

/**
 * Files and directories the backup cannot read are warned about by name and left out; the
 * rest is backed up, the snapshot is saved, and the exit code is 3 (partial). The test runs
 * the CLI as `nobody` (root reads everything whatever the permission bits say).
 */
const NOBODY = 65534;

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid);
  if (lstatSync(path).isDirectory()) for (const n of readdirSync(path)) chownTree(join(path, n), uid);
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("backup of unreadable files and directories", { timeout: 120_000, skip: isRoot ? false : "needs root to run the CLI as nobody (setpriv)" }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("unreadable");
    chmodSync(sb.dir, 0o755);
    writeFile(join(sb.src, "readable.txt"), textBytes(30_000, 1));
    writeFile(join(sb.src, "secret.txt"), "nobody may read this\n");
    writeFile(join(sb.src, "closed", "inside.txt"), "behind a closed directory\n");
    writeFile(join(sb.src, "open", "nested.bin"), textBytes(2_000_000, 2));
    writeFile(join(sb.src, "open", "also-secret.bin"), textBytes(1_500_000, 3));
    writeFile(join(sb.src, "open", "deeper", "ok.txt"), "fine\n");
    chownTree(sb.repo, NOBODY);
    chmodSync(join(sb.src, "secret.txt"), 0o000);
    chmodSync(join(sb.src, "open", "also-secret.bin"), 0o000);
    chmodSync(join(sb.src, "closed"), 0o000);
  });
  after(async () => {
    chmodSync(join(sb.src, "closed"), 0o755);
    await sb.cleanup();
  });

  it("warns about each, backs up the rest, saves the snapshot, exits 3", async () => {
    const r = await sb.cli(["backup", sb.src], { uid: NOBODY });
    assert.equal(r.code, 3, `exit code\n${r.err}\n${r.out}`);
    const warnings = r.err.split("\n").filter((l) => l.startsWith("warning:"));
    for (const p of ["secret.txt", "closed", join("open", "also-secret.bin")]) {
      assert.ok(
        warnings.some((w) => w.includes(join(sb.src, p))),
        `a warning names ${p}:\n${r.err}`,
      );
    }
    assert.ok(!r.err.split("\n").some((l) => /^\s+at /.test(l)), "no stack trace");
    assert.match(r.out, /snapshot [0-9a-f]+ saved/);

    const [snap, ...more] = await snapshots(sb);
    assert.ok(snap);
    assert.equal(more.length, 0);
    assert.equal(snap.summary?.files_failed, 3, JSON.stringify(snap.summary));

    const unreadable = new Set(["secret.txt", "closed", "open/also-secret.bin"]);
    const want = digestTree(sb.src, (rel) => unreadable.has(rel) || rel.startsWith("closed/"));
    const got = await restoredDigest(sb, snap.id, sb.src, "partial");
    assert.deepEqual(got, want);
  });

  it("a second run with the files still unreadable is partial again, and then a readable run is complete", async () => {
    const again = await sb.cli(["backup", sb.src], { uid: NOBODY });
    assert.equal(again.code, 3, again.err);
    chmodSync(join(sb.src, "secret.txt"), 0o644);
    chmodSync(join(sb.src, "open", "also-secret.bin"), 0o644);
    chmodSync(join(sb.src, "closed"), 0o755);
    const full = await sb.cli(["backup", sb.src], { uid: NOBODY });
    assert.equal(full.code, 0, full.err);
    const list = await snapshots(sb);
    const last = list[list.length - 1];
    assert.ok(last);
    assert.deepEqual(await restoredDigest(sb, last.id, sb.src, "full"), digestTree(sb.src));
  });
});
