import { test } from "node:test";
import assert from "node:assert/strict";
import { CofferError, type ErrorCode } from "../../src/core/errors.js";
import { ExitCode, exitCodeFor, exitCodeForErrorCode } from "../../src/cli/exit-codes.js";

test("error codes map to restic's exit codes", () => {
  const expected: [ErrorCode, number][] = [
    ["USAGE", 2],
    ["PARTIAL", 3],
    ["REPO_MISSING", 10],
    ["LOCKED", 11],
    ["LOCK_LOST", 1],
    ["WRONG_PASSWORD", 12],
    ["INTERRUPTED", 130],
    ["NO_PASSWORD", 1],
    ["CORRUPT", 1],
    ["IO", 1],
    ["BACKEND", 1],
    ["INVALID", 1],
  ];
  for (const [code, exit] of expected) assert.equal(exitCodeForErrorCode(code), exit, code);
});

test("exitCodeFor: CofferError by code, other errors 1, abort 130", () => {
  assert.equal(exitCodeFor(new CofferError("LOCKED", "x")), ExitCode.LOCKED);
  assert.equal(exitCodeFor(new Error("boom")), ExitCode.ERROR);
  assert.equal(exitCodeFor("a string"), ExitCode.ERROR);
  const abort = new Error("The operation was aborted");
  abort.name = "AbortError";
  assert.equal(exitCodeFor(abort), ExitCode.INTERRUPTED);
});

test("exitCodeFor: anything thrown after the signal fired is an interruption", () => {
  assert.equal(exitCodeFor(new CofferError("IO", "pipe closed"), true), ExitCode.INTERRUPTED);
  assert.equal(exitCodeFor(new Error("x"), true), ExitCode.INTERRUPTED);
});
