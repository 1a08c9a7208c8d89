import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { rotateCommand } from "../../src/cli/commands/rotate.js";
import { runCli } from "../../src/cli/main.js";
import { fakeIO } from "../cli/fake-io.js";
import { tempDir, writeFileAt } from "./tree-helpers.js";

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIO({ env: { HOME: "/nonexistent-home", ...env }, clock: () => new Date() });
  const code = await runCli(argv, io, [rotateCommand]);
  return { code, out: io.out(), err: io.err() };
}

test("coffer rotate --config: rotates what is due, prints each action with its reasons; --dry-run only says what it would do", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFileAt(join(dir, "logs", "app.log"), "x".repeat(2000) + "\n");
    await writeFile(join(dir, "rotate.json"), JSON.stringify({ rotate: [{ files: ["logs/*.log"], size: "1k", "compress-after": "0h", "backups-dir": "old" }] }));
    const state = join(dir, "state.json");
    const dry = await cli(["rotate", "--config", join(dir, "rotate.json"), "--state", state, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /^would rotate \S+app\.log -> \S+old\/app\.log\.\d{4}-\d\d-\d\d \(size 2\.0 KiB ≥ 1\.0 KiB\)$/m);
    assert.match(dry.out, /^would compress \S+old\/app\.log\.\S+ \(compress\)$/m);
    assert.match(dry.out, /^dry run: 1 of 1 log would be rotated, 1 compressed, 0 archived, 0 deleted$/m);
    assert.deepEqual(await readdir(join(dir, "logs")), ["app.log"]);
    const real = await cli(["rotate", "--config", join(dir, "rotate.json"), "--state", state, "--json"]);
    assert.equal(real.code, 0, real.err);
    const doc = JSON.parse(real.out) as { rotated: string[]; actions: { kind: string; status: string }[] };
    assert.deepEqual(doc.rotated, [join(dir, "logs", "app.log")]);
    assert.deepEqual(doc.actions.map((a) => `${a.kind}:${a.status}`), ["rotate:done", "create:done", "compress:done"]);
    assert.match((await readdir(join(dir, "logs", "old")))[0] ?? "", /\.gz$/);
  } finally {
    await cleanup();
  }
});

test("coffer rotate --from-logrotate names unsupported directives; a held lock exits 11; no rules is a usage error (2)", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFileAt(join(dir, "app.log"), "line\n");
    await writeFile(join(dir, "lr.conf"), `${dir}/app.log {\n  rotate 2\n  mail root\n}\n`);
    const state = join(dir, "state.json");
    const ok = await cli(["rotate", "--from-logrotate", join(dir, "lr.conf"), "--state", state, "--force"]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /warning: \S*\/lr\.conf:3: "mail root" is not supported \(rotated logs are not mailed\); it is ignored\./);
    assert.match(ok.out, /^rotated \S+app\.log -> \S+app\.log\.1 \(forced\)$/m);
    assert.equal(await readFile(join(dir, "app.log.1"), "utf8"), "line\n");
    await writeFile(`${state}.lock`, `${process.pid} ${hostname()} now\n`);
    const locked = await cli(["rotate", "--from-logrotate", join(dir, "lr.conf"), "--state", state, "--lock-wait", "0.2"]);
    assert.equal(locked.code, 11);
    assert.match(locked.err, /held by process \d+ on /);
    const none = await cli(["rotate"]);
    assert.equal(none.code, 2);
  } finally {
    await cleanup();
  }
});

test("coffer rotate exits 1 when an action failed, after printing what was done; the state goes to XDG_STATE_HOME by default", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, "rotate.json"), JSON.stringify({ rotate: [{ files: [join(dir, "missing.log")] }] }));
    const res = await cli(["rotate", "--config", join(dir, "rotate.json")], { XDG_STATE_HOME: join(dir, "xdg") });
    assert.equal(res.code, 1);
    assert.match(res.err, /warning: .*missing\.log does not exist; nothing to rotate\. Set missing-ok/);
    assert.match(res.err, /1 rotation action failed/);
    assert.match(res.out, /^FAILED: left \S+missing\.log \(missing\)$/m);
    assert.deepEqual(await readdir(join(dir, "xdg", "coffer")), ["rotate-state.json"]);
    await writeFile(join(dir, "bad.json"), JSON.stringify({ rotate: [{ files: ["a.log"], "keep-forever": true }] }));
    const bad = await cli(["rotate", "--config", join(dir, "bad.json"), "--state", join(dir, "s.json")]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad\.json:1:\d+: rotate\[0\]\.keep-forever: unknown setting "keep-forever"/);
  } finally {
    await cleanup();
  }
});
