import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { daemonStateDir } from "../../src/daemon/state.js";
import { type Sandbox, sandbox, sleep, spawnCli } from "../faults/fault-helpers.js";

/**
 * A daemon killed with SIGKILL in the middle of a job (no chance to clean up): its pid file is
 * stale and taken over by the next daemon, which finds the run marked in flight in the state
 * file, says so, and runs the job again.
 */
describe("coffer daemon killed with SIGKILL", { timeout: 60_000 }, () => {
  const boxes: Sandbox[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const b of boxes) await b.cleanup();
  });

  it("the next daemon takes over and runs the interrupted job again", async () => {
    const sb = await sandbox("daemon-kill", { init: false });
    boxes.push(sb);
    const config = join(sb.dir, "coffer.yaml");
    const marks = join(sb.dir, "marks");
    writeFileSync(config, ["jobs:", `  slow: {what: command, command: ${JSON.stringify(`echo started >> '${marks}'; sleep 30`)}, every: 1d}`, ""].join("\n"));
    const stateDir = daemonStateDir(config, sb.env);
    const state = () => (existsSync(join(stateDir, "state.json")) ? JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) : undefined);
    const until = async (what: string, fn: () => boolean): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!fn()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        await sleep(20);
      }
    };
    const start = () => {
      const c = spawnCli(["--config", config, "daemon", "--no-http"], { env: sb.env, cwd: sb.dir });
      children.push(c.child);
      return c;
    };

    const d = start();
    await until("the job to start", () => existsSync(marks) && state()?.jobs?.slow?.inFlight !== undefined);
    d.child.kill("SIGKILL");
    await d.done;
    assert.ok(existsSync(join(stateDir, "daemon.pid")), "a killed daemon leaves its pid file");

    const d2 = start();
    await until("the job to start again", () => readFileSync(marks, "utf8") === "started\nstarted\n");
    assert.match(d2.err(), /the run of job slow that started at \S+ did not finish \(the daemon stopped or crashed\); it runs again/);
    d2.child.kill("SIGTERM");
    const r = await d2.done;
    assert.equal(r.code, 130, r.err);
    assert.equal(state()?.jobs?.slow?.lastRun, undefined);
    assert.equal(state()?.jobs?.slow?.inFlight, undefined);
  });
});
