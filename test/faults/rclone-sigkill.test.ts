// coffer SIGKILLed while it uses an rclone: repository: the `rclone serve restic` it started
// must not outlive it (no close(), no exit handler runs; the guard's stdin pipe closes).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { HAVE_RCLONE } from "../helpers/rclone-server.js";
import { runCli, sandbox, spawnCli } from "./fault-helpers.js";

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  argv: string[];
}

function procs(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(join("/proc", name, "stat"), "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const argv = readFileSync(join("/proc", name, "cmdline"), "utf8").split("\0").filter((a) => a !== "");
      out.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0] ?? "", argv });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const all = procs();
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Running (not a zombie): /proc/PID exists and its state is not Z. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Ends the processes this test made (the password command's sleep). */
function killAll(pids: number[]): void {
  for (const p of pids.splice(0)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
}

const isRclone = (p: Proc): boolean => (p.argv[0] ?? "").endsWith("rclone") && p.argv[1] === "serve" && p.argv[2] === "restic";

test("rclone serve restic dies with a SIGKILLed coffer", { skip: HAVE_RCLONE ? false : "rclone is not installed (apt-get install rclone)", timeout: 120_000 }, async () => {
  const sb = await sandbox("rclone-kill", { init: false });
  const url = `rclone:${join(sb.dir, "repo")}`;
  const leftovers: number[] = [];
  try {
    const init = await runCli(["-r", url, "init"], { env: sb.env, cwd: sb.dir });
    assert.equal(init.code, 0, init.err);

    // The repository's config is read (rclone started) before the password is asked for; the
    // password command then keeps coffer waiting, with its rclone child serving.
    const cli = spawnCli(["-r", url, "snapshots"], { env: { ...sb.env, COFFER_PASSWORD_COMMAND: "exec sleep 600" }, cwd: sb.dir });
    const pid = cli.child.pid as number;
    let rclone: Proc | undefined;
    for (let i = 0; i < 600 && !rclone; i++) {
      const kids = descendants(pid);
      rclone = kids.find(isRclone);
      if (rclone && !kids.some((p) => p.argv[0] === "sleep")) rclone = undefined; // not waiting yet
      if (!rclone) await sleep(50);
    }
    assert.ok(rclone, `no rclone serve restic below coffer (pid ${pid}); stderr: ${cli.err()}`);
    leftovers.push(...descendants(pid).filter((p) => p.argv[0] === "sleep").map((p) => p.pid));

    cli.child.kill("SIGKILL");
    // The sleep holds coffer's stderr open, so coffer's pipes close only once it is gone too.
    killAll(leftovers);
    const run = await cli.done;
    assert.equal(run.signal, "SIGKILL", "coffer was still running when it was killed");
    for (let i = 0; i < 400 && running(rclone.pid); i++) await sleep(50);
    assert.equal(running(rclone.pid), false, `rclone (pid ${rclone.pid}) outlived coffer`);
  } finally {
    killAll(leftovers);
    await sb.cleanup();
  }
});
