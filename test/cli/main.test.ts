import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { CofferError } from "../../src/core/errors.js";
import { defineCommand, integer } from "../../src/cli/command.js";
import { main, runCli } from "../../src/cli/main.js";
import { printJson, printLine } from "../../src/cli/output.js";
import { fakeIO } from "./fake-io.js";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const fail = (err: unknown) =>
  defineCommand({
    name: "fail",
    summary: "always fails",
    examples: ["coffer fail"],
    run() {
      throw err;
    },
  });

test("main() with an unknown command exits 2 with a usage message", async () => {
  const io = fakeIO();
  const before = process.exitCode;
  try {
    await main(["frobnicate"], io);
    assert.equal(process.exitCode, 2);
  } finally {
    process.exitCode = before;
  }
  assert.match(io.err(), /^coffer: unknown command 'frobnicate'\n/);
  assert.match(io.err(), /coffer --help/);
  assert.equal(io.out(), "");
});

test("an unknown option exits 2 and points at the command's --help", async () => {
  const io = fakeIO();
  assert.equal(await runCli(["version", "--frob"], io), 2);
  assert.match(io.err(), /unknown option '--frob'/);
  assert.match(io.err(), /Run 'coffer version --help'/);
});

test("a bad option value (InvalidArgumentError) is a usage error", async () => {
  const cmd = defineCommand<{ keep: number }>({
    name: "keep",
    summary: "keeps",
    examples: ["coffer keep --keep 3"],
    options: [{ flags: "--keep <n>", description: "how many", parse: integer }],
    run() {},
  });
  const io = fakeIO();
  assert.equal(await runCli(["keep", "--keep", "x"], io, [cmd]), 2);
  assert.match(io.err(), /Not an integer/);
});

test("no command prints help on stderr and exits 2", async () => {
  const io = fakeIO();
  assert.equal(await runCli([], io), 2);
  assert.match(io.err(), /Usage: coffer/);
});

test("--help includes the examples and exits 0", async () => {
  const io = fakeIO();
  assert.equal(await runCli(["version", "--help"], io), 0);
  assert.match(io.out(), /Examples:\n {2}coffer version\n {2}coffer version --json\n/);
  const top = fakeIO();
  assert.equal(await runCli(["--help"], top), 0);
  assert.match(top.out(), /version\s+print the version of coffer/);
});

test("version prints PROGRAM, and JSON with --json (global flag before or after)", async () => {
  const io = fakeIO();
  assert.equal(await runCli(["version"], io), 0);
  assert.equal(io.out(), "coffer 0.1.0\n");
  for (const argv of [["version", "--json"], ["--json", "version"]]) {
    const j = fakeIO();
    assert.equal(await runCli(argv, j), 0);
    const doc = JSON.parse(j.out()) as { program: string; version: string };
    assert.equal(doc.program, "coffer 0.1.0");
    assert.equal(j.err(), "");
  }
});

test("a CofferError prints one sentence, no stack, and maps its code", async () => {
  const io = fakeIO();
  const code = await runCli(["fail"], io, [fail(new CofferError("LOCKED", "The repository is locked by pid 42 on host a; wait, or run coffer unlock if it is stale."))]);
  assert.equal(code, 11);
  assert.equal(io.err(), "coffer: The repository is locked by pid 42 on host a; wait, or run coffer unlock if it is stale.\n");
  assert.equal(io.out(), "");
});

test("with --json a failing command prints nothing on stdout", async () => {
  const io = fakeIO();
  assert.equal(await runCli(["--json", "fail"], io, [fail(new CofferError("REPO_MISSING", "No repository at /x; run coffer init first."))]), 10);
  assert.equal(io.out(), "");
  assert.equal(io.err(), "coffer: No repository at /x; run coffer init first.\n");
});

test("an unexpected error says so, without a stack unless --debug", async () => {
  const io = fakeIO();
  assert.equal(await runCli(["fail"], io, [fail(new TypeError("x is not a function"))]), 1);
  assert.equal(io.err(), "coffer: unexpected error: x is not a function\nRun with --debug for details.\n");

  const dbg = fakeIO();
  assert.equal(await runCli(["--debug", "fail"], dbg, [fail(new TypeError("x is not a function"))]), 1);
  assert.match(dbg.err(), /^coffer: unexpected error: x is not a function\n/);
  assert.match(dbg.err(), /TypeError: x is not a function\n\s+at /);
  assert.doesNotMatch(dbg.err(), /--debug for details/);
});

test("--debug shows the stack and cause of a CofferError too", async () => {
  const io = fakeIO();
  const err = new CofferError("IO", "Failed while reading /x: EACCES.", { sys: "EACCES" }, { cause: new Error("EACCES: permission denied") });
  assert.equal(await runCli(["fail", "--debug"], io, [fail(err)]), 1);
  assert.match(io.err(), /^coffer: Failed while reading \/x: EACCES\.\n/);
  assert.match(io.err(), /code: IO data: \{"sys":"EACCES"\}/);
  assert.match(io.err(), /caused by:\nError: EACCES: permission denied/);
});

test("a command may return an exit code without an error", async () => {
  const health = defineCommand({ name: "health", summary: "h", examples: [], run: () => 1 });
  const io = fakeIO();
  assert.equal(await runCli(["health"], io, [health]), 1);
  assert.equal(io.err(), "");
});

test("positional arguments and options reach run; subcommands get a path", async () => {
  const seen: unknown[] = [];
  const key = defineCommand({
    name: "key",
    summary: "keys",
    examples: [],
    subcommands: [
      defineCommand<{ host?: string; dryRun?: boolean }>({
        name: "add",
        summary: "add a key",
        examples: ["coffer key add --host h"],
        arguments: [
          { name: "<first>", description: "first" },
          { name: "[rest...]", description: "more" },
        ],
        options: [
          { flags: "--host <name>", description: "host" },
          { flags: "-n, --dry-run", description: "dry" },
        ],
        run(ctx, args, opts) {
          seen.push(ctx.command, args, opts, ctx.options.repo);
          printLine(ctx, "ok");
        },
      }),
    ],
  });
  const io = fakeIO({ env: { HOME: "/h", COFFER_REPOSITORY: "/env-repo" } });
  assert.equal(await runCli(["key", "add", "a", "b", "c", "--host", "h", "-n"], io, [key]), 0);
  assert.deepEqual(seen, ["key add", ["a", "b", "c"], { host: "h", dryRun: true }, "/env-repo"]);
  assert.equal(io.out(), "ok\n");

  const flag = fakeIO({ env: { HOME: "/h", COFFER_REPOSITORY: "/env-repo" } });
  seen.length = 0;
  assert.equal(await runCli(["-r", "/flag-repo", "key", "add", "a"], flag, [key]), 0);
  assert.equal(seen[3], "/flag-repo");
});

test("SIGINT aborts ctx.signal and the run exits 130; a second SIGINT exits at once", async () => {
  const started = deferred();
  const wait = defineCommand({
    name: "wait",
    summary: "waits for the signal",
    examples: [],
    async run(ctx) {
      started.resolve();
      await once(ctx.signal, "abort");
      // A command that stops early and returns normally still exits 130.
    },
  });
  const io = fakeIO();
  const running = runCli(["wait"], io, [wait]);
  await started.promise;
  io.emitter.emit("SIGINT");
  io.emitter.emit("SIGINT");
  assert.equal(await running, 130);
  assert.deepEqual(io.exits, [130]);
  assert.match(io.err(), /interrupted/);
  assert.equal(io.emitter.listenerCount("SIGINT"), 0);
});

test("an operation that throws because it was aborted exits 130 with one line", async () => {
  const started = deferred();
  const op = defineCommand({
    name: "op",
    summary: "aborts",
    examples: [],
    async run(ctx) {
      started.resolve();
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    },
  });
  const io = fakeIO();
  const running = runCli(["op"], io, [op]);
  await started.promise;
  io.emitter.emit("SIGTERM");
  assert.equal(await running, 130);
  assert.match(io.err(), /^coffer: terminated; stopping .*\ncoffer: interrupted\n$/);
  assert.deepEqual(io.exits, []);
});

test("printJson writes one JSON document", async () => {
  const cmd = defineCommand({ name: "j", summary: "j", examples: [], run: (ctx) => printJson(ctx, { a: [1, 2] }) });
  const io = fakeIO();
  assert.equal(await runCli(["j", "--json"], io, [cmd]), 0);
  assert.deepEqual(JSON.parse(io.out()), { a: [1, 2] });
  assert.equal(io.out().trim().split("\n").length, 1);
});
