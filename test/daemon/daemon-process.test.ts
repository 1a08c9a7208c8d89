import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { daemonStateDir } from "../../src/daemon/state.js";
import { check } from "../../src/ops/check.js";
import { makeTree, repoNames, type Sandbox, sandbox, sleep, snapshots, spawnCli } from "../faults/fault-helpers.js";

/**
 * `coffer daemon` as systemd runs it: a real process. Its HTTP endpoints answer while a backup
 * runs; SIGTERM in the middle of the backup stops it (exit 130) without a snapshot, the
 * repository passes check, nothing is notified, and the next start runs the backup again to
 * the end. A second daemon on the same configuration refuses to start.
 */
describe("coffer daemon process", { timeout: 120_000 }, () => {
  const boxes: Sandbox[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    // A failed assertion must not leave a daemon running (it would keep the test process alive).
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const b of boxes) await b.cleanup();
  });

  async function assertSound(sb: Sandbox): Promise<void> {
    const repo = await sb.open();
    try {
      const r = await check(repo, { workers: 1 });
      assert.ok(r.ok, `check: ${JSON.stringify(r.errors)}`);
    } finally {
      await repo.close();
    }
  }

  async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  it("serves /healthz, /metrics and /status; SIGTERM mid-backup leaves a sound repository; the next start backs up", async () => {
    const sb = await sandbox("daemon", { packSize: 1 << 20 });
    boxes.push(sb);
    makeTree(sb.src, { small: 150, big: [8 << 20, 8 << 20, 8 << 20], seed: 5 });
    const config = join(sb.dir, "coffer.yaml");
    const events = join(sb.dir, "events.jsonl");
    writeFileSync(
      config,
      [
        "repositories:",
        `  main: {url: ${JSON.stringify(sb.repo)}}`,
        "sources:",
        `  app: {paths: [${JSON.stringify(sb.src)}]}`,
        "jobs:",
        "  nightly: {what: backup, source: app, repository: main, every: 1d, retries: 0}",
        "notify:",
        `  command: ${JSON.stringify(`cat >> '${events}'`)}`,
        "",
      ].join("\n"),
    );
    const stateDir = daemonStateDir(config, sb.env);
    const start = () => {
      const c = spawnCli(["--config", config, "daemon", "--port", "0"], { env: sb.env, cwd: sb.dir });
      children.push(c.child);
      return c;
    };

    const d = start();
    const packsBefore = new Set(repoNames(sb.repo, "data"));
    const url = await until("the HTTP address", () => /status on (http:\/\/127\.0\.0\.1:\d+)\/status/.exec(d.err())?.[1]);
    await until("the backup to start", () => /job nightly: started \(backup\)/.test(d.err()) || undefined);

    const status = (await (await fetch(`${url}/status`)).json()) as { jobs: { name: string; running: boolean }[]; daemon: { running: boolean; pid: number } };
    assert.deepEqual(status.jobs.map((j) => [j.name, j.running]), [["nightly", true]]);
    assert.equal(status.daemon.pid, d.child.pid);
    const metrics = await fetch(`${url}/metrics`);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    assert.match(text, /^coffer_up 1$/m);
    assert.match(text, /^coffer_job_running\{job="nightly",what="backup"\} 1$/m);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, "ok");
    assert.equal((await fetch(`${url}/nothing`)).status, 404);
    assert.equal((await fetch(`${url}/status`, { method: "POST" })).status, 405);

    // SIGTERM once the backup has written its first pack (it writes dozens).
    await until("the backup's first pack", () => repoNames(sb.repo, "data").some((p) => !packsBefore.has(p)) || undefined);
    assert.ok(!/job nightly: done/.test(d.err()), "the backup is still running");
    d.child.kill("SIGTERM");
    const r = await d.done;
    assert.equal(r.code, 130, r.err);
    assert.match(r.err, /job nightly: stopped before it finished; it runs again when the daemon is back/);
    assert.match(r.err, /daemon stopped/);
    assert.ok(!r.err.split("\n").some((l) => /^\s+at /.test(l)), `no stack trace:\n${r.err}`);
    assert.deepEqual(await snapshots(sb), [], "an abandoned backup saves no snapshot");
    await assertSound(sb);
    const state1 = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8"));
    assert.equal(state1.jobs.nightly.lastRun, undefined);
    assert.equal(state1.jobs.nightly.inFlight, undefined);
    assert.ok(!existsSync(join(stateDir, "daemon.pid")), "the pid file is removed");
    assert.ok(readFileSync(join(stateDir, "daemon.log"), "utf8").includes("stopped before it finished"), "the log file has the daemon's lines");
    assert.ok(!existsSync(events), "an interrupted run notifies nothing");

    // Back up: the backup runs again, to the end; a second daemon is refused meanwhile.
    const d2 = start();
    const url2 = await until("the HTTP address", () => /status on (http:\/\/127\.0\.0\.1:\d+)\/status/.exec(d2.err())?.[1]);
    const second = await start().done;
    assert.equal(second.code, 11, second.err);
    assert.match(second.err, /Another coffer daemon \(pid \d+ on .*\) is running for .*coffer\.yaml; stop it first/);
    await until("the backup to finish", () => /job nightly: done/.test(d2.err()) || undefined, 60_000);
    const [snap] = await snapshots(sb);
    assert.equal(snap?.source, "app");
    assert.equal(snap?.kind, "scheduled");
    const st = (await (await fetch(`${url2}/status`)).json()) as { jobs: { lastSuccess?: string; bytesAdded?: number; running: boolean }[] };
    assert.ok(st.jobs[0]?.lastSuccess !== undefined && (st.jobs[0]?.bytesAdded ?? 0) > 0);
    const facts = await until("the repository facts", async () => {
      const m = await (await fetch(`${url2}/metrics`)).text();
      return /coffer_repository_snapshots\{repository="main",source="app"\} 1/.test(m) ? m : undefined;
    });
    assert.match(facts, /^coffer_repository_reachable\{repository="main"\} 1$/m);
    assert.match(facts, /^coffer_job_last_success\{job="nightly",what="backup"\} 1$/m);
    d2.child.kill("SIGTERM");
    const r2 = await d2.done;
    assert.equal(r2.code, 130, r2.err);
    await assertSound(sb);
  });
});
