import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { colorEnabled, createContext, globalOptionsFrom } from "../../src/cli/context.js";
import { fakeIO } from "./fake-io.js";

test("colour: FORCE_COLOR wins, then NO_COLOR, then the terminal", () => {
  assert.equal(colorEnabled({}, true), true);
  assert.equal(colorEnabled({}, false), false);
  assert.equal(colorEnabled({ NO_COLOR: "1" }, true), false);
  assert.equal(colorEnabled({ NO_COLOR: "" }, true), true);
  assert.equal(colorEnabled({ FORCE_COLOR: "1" }, false), true);
  assert.equal(colorEnabled({ FORCE_COLOR: "1", NO_COLOR: "1" }, false), true);
  assert.equal(colorEnabled({ FORCE_COLOR: "0" }, true), false);
  assert.equal(colorEnabled({ TERM: "dumb" }, true), false);
});

test("global options: flag beats COFFER_REPOSITORY; --quiet with --verbose is a usage error", () => {
  assert.equal(globalOptionsFrom({}, { COFFER_REPOSITORY: "/e" }).repo, "/e");
  assert.equal(globalOptionsFrom({ repo: "/f" }, { COFFER_REPOSITORY: "/e" }).repo, "/f");
  assert.equal(globalOptionsFrom({}, {}).progress, true);
  assert.throws(() => globalOptionsFrom({ quiet: true, verbose: 1 }, {}), (e) => isCofferError(e, "USAGE"));
});

test("no repository named: the default one, and ctx.password creates its password once", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-ctx-"));
  try {
    const io = fakeIO({ env: { HOME: dir } });
    const { ctx } = createContext({ io, options: globalOptionsFrom({}, io.env), command: "backup", signal: new AbortController().signal });
    assert.deepEqual(ctx.repository, { location: join(dir, ".local/share/coffer/default"), isDefault: true });
    const pw = await ctx.password({ createDefault: true });
    assert.equal(await ctx.password(), pw);
    const file = join(dir, ".config/coffer/default.password");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(io.err(), new RegExp(`created a password for the default repository in ${file}; keep a copy`));
    assert.equal(io.err().split("\n").filter(Boolean).length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("password resolution is lazy: a command that never asks never runs the password command", async () => {
  const io = fakeIO({ env: { HOME: "/h", COFFER_PASSWORD_COMMAND: "exit 1" } });
  const { ctx } = createContext({ io, options: globalOptionsFrom({}, io.env), command: "version", signal: new AbortController().signal });
  assert.equal(ctx.repository.isDefault, true);
  await assert.rejects(ctx.password(), (e) => isCofferError(e, "NO_PASSWORD"));
});

test("passwordRetry asks again only when the password was typed", async () => {
  const io = fakeIO({ env: { HOME: "/h", COFFER_PASSWORD: "given" } });
  const { ctx } = createContext({ io, options: globalOptionsFrom({ repo: "/r" }, io.env), command: "snapshots", signal: new AbortController().signal });
  assert.equal(await ctx.password(), "given");
  assert.equal(await ctx.passwordRetry(), undefined);
});
