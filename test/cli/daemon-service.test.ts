import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/main.js";
import { fakeIO } from "./fake-io.js";

describe("coffer service install / uninstall", () => {
  let dir: string;
  let env: Record<string, string>;
  let config: string;
  const cli = async (argv: string[]) => {
    const io = fakeIO({ env });
    const code = await runCli(argv, io);
    return { code, out: io.out(), err: io.err() };
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "coffer-service-"));
    env = { HOME: join(dir, "home") };
    config = join(dir, "coffer.yaml");
    await writeFile(config, "repositories:\n  main: {url: ./repo}\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const unit = () => join(dir, "home/.config/systemd/user/coffer.service");

  it("--dry-run prints the unit and writes nothing", async () => {
    const r = await cli(["--config", config, "service", "install", "--user", "--dry-run"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^ExecStart=${process.execPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\S+coffer\\.js --config ${config.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} daemon$`, "m"));
    assert.match(r.err, /would write .*coffer\.service/);
    assert.match(r.err, /systemctl --user enable --now coffer\.service/);
    assert.ok(!existsSync(unit()));
  });

  it("installs a user unit, replaces its own on a second install, and uninstalls it", async () => {
    const r = await cli(["--config", config, "service", "install", "--user"]);
    assert.equal(r.code, 0, r.err);
    const text = await readFile(unit(), "utf8");
    assert.match(text, /^# Written by coffer service install/);
    assert.match(text, /^WantedBy=default\.target$/m);
    assert.match(r.out, /^\[Service\]$/m, "prints what it wrote");
    assert.equal((await cli(["--config", config, "service", "install", "--user"])).code, 0);
    const u = await cli(["service", "uninstall", "--user"]);
    assert.equal(u.code, 0, u.err);
    assert.match(u.out, /^removed .*coffer\.service$/m);
    assert.ok(!existsSync(unit()));
    assert.match((await cli(["service", "uninstall", "--user"])).out, /there is no unit .* nothing to remove/);
  });

  it("leaves alone a unit it did not write", async () => {
    await mkdir(join(dir, "home/.config/systemd/user"), { recursive: true });
    await writeFile(unit(), "[Service]\nExecStart=/bin/true\n");
    const r = await cli(["--config", config, "service", "install", "--user"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /exists and was not written by coffer; remove it first, choose another --name, or use --force/);
    assert.equal((await cli(["service", "uninstall", "--user"])).code, 1);
    assert.equal(await readFile(unit(), "utf8"), "[Service]\nExecStart=/bin/true\n");
    await rm(unit());
  });

  it("a daemon without a configuration says how to get one", async () => {
    const r = await cli(["--config", join(dir, "missing.yaml"), "daemon"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /missing\.yaml does not exist; check --config/);
  });
});
