import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgressBar } from "../../src/cli/progress-bar.js";
import { createContext, globalOptionsFrom } from "../../src/cli/context.js";
import { printWarning } from "../../src/cli/output.js";
import { fakeIO } from "./fake-io.js";

function fakeClock(start = 0) {
  let t = start;
  return { clock: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

test("not enabled (stderr not a TTY, --json, --quiet, --no-progress): draws nothing", () => {
  const writes: string[] = [];
  const bar = createProgressBar({ write: (s) => writes.push(s), enabled: false });
  bar.update({ phase: "backup", filesDone: 1, bytesDone: 10 });
  bar.done();
  assert.deepEqual(writes, []);
});

test("the context gives a silent reporter unless stderr is a terminal and output is not JSON", () => {
  const cases: [boolean, string[], boolean][] = [
    [false, [], false],
    [true, [], true],
    [true, ["json"], false],
    [true, ["quiet"], false],
    [true, ["noProgress"], false],
  ];
  for (const [tty, flags, drawn] of cases) {
    const io = fakeIO({ stderrIsTTY: tty });
    const options = globalOptionsFrom({ json: flags.includes("json"), quiet: flags.includes("quiet"), progress: !flags.includes("noProgress") }, io.env);
    const { ctx } = createContext({ io, options, command: "t", signal: new AbortController().signal });
    const p = ctx.progress();
    p.update({ phase: "scan", filesDone: 3 });
    p.done();
    assert.equal(io.err() !== "", drawn, `tty=${tty} ${flags.join(",")}`);
    assert.equal(io.out(), "");
  }
});

test("redraws at most 10 times a second, shows totals, rate and ETA, clears on done", () => {
  const writes: string[] = [];
  const c = fakeClock();
  const bar = createProgressBar({ write: (s) => writes.push(s), enabled: true, clock: c.clock, columns: () => 120 });
  const MiB = 1024 * 1024;
  for (let i = 0; i <= 100; i++) {
    bar.update({ phase: "backup", filesDone: i, filesTotal: 100, bytesDone: i * MiB, bytesTotal: 100 * MiB, current: `/data/file-${i}` });
    c.advance(10); // 100 updates a second
  }
  assert.ok(writes.length >= 10 && writes.length <= 11, `drew ${writes.length} times in one second`);
  const last = writes[writes.length - 1] ?? "";
  assert.match(last, /^\r\[1\.0s\] {2}backup {2}100\/100 files {2}100\.0 MiB \/ 100\.0 MiB \(100%\) {2}100\.0 MiB\/s {2}ETA 0ms {2}\/data\/file-100\x1b\[K$/);
  bar.done();
  assert.equal(writes[writes.length - 1], "\r\x1b[K");
  bar.update({ phase: "backup" });
  assert.equal(writes[writes.length - 1], "\r\x1b[K");
});

test("ETA from the moving average", () => {
  const writes: string[] = [];
  const c = fakeClock();
  const bar = createProgressBar({ write: (s) => writes.push(s), enabled: true, clock: c.clock, columns: () => 200 });
  for (let s = 0; s <= 2; s++) {
    bar.update({ phase: "restore", bytesDone: s * 1024 * 1024, bytesTotal: 12 * 1024 * 1024 });
    c.advance(1000);
  }
  assert.match(writes[writes.length - 1] ?? "", /1\.0 MiB\/s {2}ETA 10s/);
});

test("the line is cut to the terminal width", () => {
  const writes: string[] = [];
  const bar = createProgressBar({ write: (s) => writes.push(s), enabled: true, clock: () => new Date(0), columns: () => 40 });
  bar.update({ phase: "backup", filesDone: 5, current: "/a/very/long/path/that/does/not/fit/anywhere.txt" });
  const line = (writes[0] ?? "").replace(/^\r/, "").replace(/\x1b\[K$/, "");
  assert.ok([...line].length <= 39, line);
  assert.match(line, /…/);
});

test("stderr writes through the context hide the bar and draw it again", () => {
  const io = fakeIO({ stderrIsTTY: true, env: { NO_COLOR: "1" } });
  const { ctx } = createContext({ io, options: globalOptionsFrom({}, io.env), command: "t", signal: new AbortController().signal });
  const p = ctx.progress();
  p.update({ phase: "backup", filesDone: 1 });
  printWarning(ctx, { code: "UNREADABLE", message: "permission denied", path: "/x" });
  assert.match(io.err(), /\r\x1b\[Kwarning: \/x: permission denied\n\r\[0ms\] {2}backup {2}1 files\x1b\[K$/);
  p.done();
});
