import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bakCommand } from "../../src/cli/commands/bak.js";
import { versionCommand } from "../../src/cli/commands/version.js";
import { versionsCommand } from "../../src/cli/commands/versions.js";
import { runCli } from "../../src/cli/main.js";
import { fakeIO } from "../cli/fake-io.js";
import { tempDir } from "./tree-helpers.js";

let tick = 0;
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  // Each invocation one second later, so copies get distinct names.
  const t = new Date(Date.UTC(2026, 10, 20, 12, 0, tick++));
  const io = fakeIO({ clock: () => t });
  const code = await runCli(argv, io, [bakCommand, versionCommand, versionsCommand]);
  return { code, out: io.out(), err: io.err() };
}

test("coffer bak FILE… / list / restore / clean: --keep on the group and on clean are each their own", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const a = join(dir, "a.py");
    const b = join(dir, "b.py");
    await writeFile(a, "a1");
    await writeFile(b, "b1");
    const made = await cli(["bak", a, b, "--tag", "art1"]);
    assert.equal(made.code, 0, made.err);
    assert.match(made.out, /^\S*a\.py -> a\.py\.bak\.\d{8}_\d{6}\.art1\n\S*b\.py -> b\.py\.bak\.\d{8}_\d{6}\.art1\n$/);
    await cli(["bak", a]);
    await cli(["bak", a]);
    const third = await cli(["bak", "--keep", "2", a]);
    assert.match(third.out, /\n {2}deleted a\.py\.bak\.\d{8}_\d{6}\.art1 \(beyond keep 2\)\n/);
    const list = await cli(["bak", "list", dir, "--json"]);
    assert.deepEqual((JSON.parse(list.out) as { file: string; count: number; bytes: number }[]).map((g) => [g.file, g.count, g.bytes]), [
      [a, 2, 4],
      [b, 1, 2],
    ]);
    await writeFile(a, "a-broken");
    const restored = await cli(["bak", "restore", a]);
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.out, /^restored \S*a\.py from a\.py\.bak\.\S+; what it held is kept as a\.py\.bak\.\d{8}_\d{6}\.pre-restore\n$/);
    assert.equal(await readFile(a, "utf8"), "a1");
    const clean = await cli(["bak", "clean", dir, "--keep", "1", "--dry-run"]);
    assert.equal(clean.code, 0, clean.err);
    assert.match(clean.out, /dry run: 2 copies would be deleted\n$/);
    const cleaned = await cli(["bak", "clean", dir, "--keep", "1"]);
    assert.match(cleaned.out, /\n2 copies deleted\n$/);
    assert.equal((await readdir(dir)).filter((n) => n.includes(".bak.")).length, 2);
    const missing = await cli(["bak", join(dir, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /does not exist; nothing was copied/);
  } finally {
    await cleanup();
  }
});

test("coffer version still prints the program version; coffer versions PATH keeps versions of a file", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const plain = await cli(["version"]);
    assert.match(plain.out, /^coffer \d+\.\d+\.\d+\n$/);
    const f = join(dir, "status.md");
    await writeFile(f, "one");
    const v = await cli(["versions", f, "--keep", "2"]);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /status\.md kept as \S*archive\/status_\d{4}-\d\d-\d\d_\d{6}_0001\.md\n$/);
    const src = join(dir, "new.md");
    await writeFile(src, "two");
    const w = await cli(["versions", f, "--from", src, "--keep", "1", "--json"]);
    const doc = JSON.parse(w.out) as { archived: string; removed: string[] };
    assert.equal(await readFile(f, "utf8"), "two");
    assert.equal(await readFile(doc.archived, "utf8"), "one");
    assert.equal(doc.removed.length, 1);
    const bad = await cli(["versions"]);
    assert.equal(bad.code, 2);
  } finally {
    await cleanup();
  }
});
