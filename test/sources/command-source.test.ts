import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../../src/backend/local.js";
import { isCofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backupSource } from "../../src/sources/backup-source.js";
import type { CommandSource } from "../../src/sources/source.js";
import { dump } from "../../src/snapshot/dump.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";

const node = JSON.stringify(process.execPath);

/** A program printing `mib` MiB of numbered lines, written in pieces (a dump does not come at once). */
function generator(mib: number, exit = 0): string[] {
  const js = `let i=0;const w=()=>{let ok=true;while(ok&&i<${mib * 16}){ok=process.stdout.write(Buffer.alloc(65536,48+(i%10)));i++}if(i<${mib * 16})process.stdout.once("drain",w);else{process.stderr.write("dumped\\n");process.exitCode=${exit}}};w();`;
  return [process.execPath, "-e", js];
}

test("command source: the output is streamed into a snapshot as /FILENAME (32 MiB, read back byte for byte); env and cwd apply", { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-cmd-"));
  try {
    const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
    const source: CommandSource = { name: "pg", kind: "command", tags: ["dump"], command: generator(32), filename: "db.dump", cwd: dir, env: {}, tmpDir: dir };
    const stderr: string[] = [];
    const r = await backupSource(repo, source, { onStderr: (t) => stderr.push(t) });
    assert.ok(r.snapshot);
    assert.deepEqual([r.snapshot.paths, r.snapshot.source, r.snapshot.tags], [["/db.dump"], "pg", ["dump"]]);
    assert.deepEqual(r.staged, [{ kind: "command", path: "/db.dump", bytes: 32 * 1024 * 1024 }]);
    assert.equal(stderr.join(""), "dumped\n");
    const want = createHash("sha256");
    for (let i = 0; i < 32 * 16; i++) want.update(Buffer.alloc(65536, 48 + (i % 10)));
    const got = createHash("sha256");
    let bytes = 0;
    await dump(repo, r.snapshot.tree, "/db.dump", { write: (c) => void (got.update(c), (bytes += c.length)) });
    assert.equal(bytes, 32 * 1024 * 1024);
    assert.equal(got.digest("hex"), want.digest("hex"));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith("coffer-")), [], "the staging folder is removed");

    // A shell command line, with the source's environment and folder.
    const sh: CommandSource = { ...source, name: "sh", command: 'printf "%s in %s" "$GREETING" "$(basename "$PWD")"', filename: "hello.txt", env: { GREETING: "hello" } };
    const r2 = await backupSource(repo, sh);
    let text = "";
    await dump(repo, r2.snapshot?.tree ?? "", "/hello.txt", { write: (c) => void (text += Buffer.from(c).toString()) });
    assert.equal(text, `hello in ${dir.split("/").pop() ?? ""}`);
    await repo.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("command source: a non-zero exit fails the job, names the exit status and stderr, and writes no snapshot; so does a missing program", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-cmd-"));
  try {
    const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
    const source: CommandSource = { name: "pg", kind: "command", tags: [], command: generator(2, 3), filename: "db.dump", cwd: dir, env: {}, tmpDir: dir };
    await assert.rejects(backupSource(repo, source), (e) => isCofferError(e, "IO") && /^The command of source pg failed \(exit status 3\): dumped; no snapshot was saved\. Run it by hand/.test(e.message) && e.data.exitCode === 3);
    await assert.rejects(backupSource(repo, { ...source, command: `${node} -e "process.exit(0)" && false` }), /failed \(exit status 1\); no snapshot was saved/);
    await assert.rejects(backupSource(repo, { ...source, command: ["/nonexistent/pg_dump"] }), /could not be started/);
    await assert.rejects(backupSource(repo, { ...source, command: "true" }, { dryRun: true }), (e) => isCofferError(e, "USAGE"));
    assert.deepEqual(await listSnapshots(repo), []);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith("coffer-")), []);
    await repo.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("command source: an interrupt stops the command and saves nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-cmd-"));
  try {
    const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
    const ac = new AbortController();
    const source: CommandSource = { name: "slow", kind: "command", tags: [], command: [process.execPath, "-e", "setInterval(() => process.stdout.write('x'), 10)"], filename: "x", cwd: dir, env: {}, tmpDir: dir };
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(backupSource(repo, source, { signal: ac.signal }), (e) => isCofferError(e, "INTERRUPTED"));
    assert.deepEqual(await listSnapshots(repo), []);
    await repo.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
