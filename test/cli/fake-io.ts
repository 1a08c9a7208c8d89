// A fake process for CLI tests: captured stdout/stderr, a fixed environment, a fake clock.
import { EventEmitter } from "node:events";
import type { MainIO } from "../../src/cli/main.js";

export interface FakeIO extends MainIO {
  out: () => string;
  err: () => string;
  emitter: EventEmitter;
  exits: number[];
}

export function fakeIO(over: Partial<MainIO> = {}): FakeIO {
  let out = "";
  let err = "";
  const emitter = new EventEmitter();
  const exits: number[] = [];
  return {
    stdout: { write: (s) => void (out += s) },
    stderr: { write: (s) => void (err += s) },
    env: { HOME: "/nonexistent-home" },
    stdinIsTTY: false,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    clock: () => new Date("2026-11-20T12:00:00Z"),
    signals: emitter,
    exitNow: (code) => void exits.push(code),
    ...over,
    out: () => out,
    err: () => err,
    emitter,
    exits,
  };
}
