import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { runCli } from "../../src/cli/main.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { daemonStateDir, emptyState } from "../../src/daemon/state.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { fakeIO } from "./fake-io.js";

const NOW = new Date("2026-06-15T12:00:00Z");
const DAY = 86_400_000;

describe("coffer health and coffer status", () => {
  let dir: string;
  let env: Record<string, string>;
  let config: string;
  let stateDir: string;
  const cli = async (argv: string[]) => {
    const io = fakeIO({ env, clock: () => NOW });
    const code = await runCli(["--config", config, ...argv], io);
    return { code, out: io.out(), err: io.err() };
  };
  const writeState = async (lastSuccessDaysAgo: number | undefined) => {
    const s = emptyState(config);
    const t = lastSuccessDaysAgo === undefined ? undefined : new Date(NOW.getTime() - lastSuccessDaysAgo * DAY).toISOString();
    const run = t === undefined ? undefined : { startedAt: t, finishedAt: t, durationMs: 5000, result: "success" as const, attempts: 1, bytesAdded: 4096 };
    s.jobs.weekly = { since: new Date(NOW.getTime() - 60 * DAY).toISOString(), consecutiveFailures: 0, runs: 1, failures: 0, ...(run ? { lastRun: run, lastSuccess: run } : {}) };
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, "state.json"), JSON.stringify(s));
  };
  // This test process stands in for a running daemon.
  const writePid = () => writeFile(join(stateDir, "daemon.pid"), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: NOW.toISOString(), http: "http://127.0.0.1:1" }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "coffer-health-"));
    env = { HOME: join(dir, "home"), XDG_STATE_HOME: join(dir, "state"), COFFER_TEST_KDF: "1", NO_COLOR: "1" };
    await writeFile(join(dir, "pw"), "secret\n");
    await mkdir(join(dir, "data"));
    await writeFile(join(dir, "data", "a.txt"), "hello");
    await (await Repository.init(new LocalBackend(join(dir, "repo")), { password: "secret", kdf: TEST_KDF })).close();
    config = join(dir, "coffer.yaml");
    await writeFile(
      config,
      ["repositories:", "  main: {url: ./repo, password: {file: pw}}", "sources:", "  app: {paths: [data]}", "jobs:", "  weekly: {what: backup, source: app, repository: main, every: 7d}", "health:", "  min-free-space: 1k", ""].join("\n"),
    );
    stateDir = daemonStateDir(config, env);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("without a daemon and without any backup: critical (exit 2), each problem with what to do", async () => {
    const r = await cli(["health"]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.out, /^CRIT {2}the daemon is not running, so no job runs\n {6}→ start it: coffer daemon/m);
    assert.match(r.out, /^CRIT {2}job weekly \(backup\) has never succeeded\n {6}→ see the daemon's log \(.*daemon\.log\) and run it by hand to see why: coffer -r main backup --source app$/m);
    assert.match(r.out, /^ok {4}repository main is reachable: 0 snapshots$/m);
    assert.match(r.out, /^critical: \d+ checks, 2 need attention$/m);
  });

  it("a late backup is a warning (exit 1); --json gives every check", async () => {
    await writeState(12);
    await writePid();
    const r = await cli(["--json", "health"]);
    assert.equal(r.code, 1, r.err);
    const report = JSON.parse(r.out) as { status: string; config: string; checks: { id: string; status: string; message: string; fix?: string }[] };
    assert.equal(report.status, "warning");
    assert.equal(report.config, config);
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    assert.equal(byId.daemon?.status, "ok");
    assert.equal(byId["job:weekly"]?.status, "warning");
    assert.match(byId["job:weekly"]?.message ?? "", /last success 12 d 0 h ago, expected every 7 d 0 h/);
    assert.ok(Object.keys(byId).some((k) => k.startsWith("disk:")));
  });

  let backedUp = false;
  const backupByHand = async () => {
    if (backedUp) return;
    backedUp = true;
    const repo = await Repository.open(new LocalBackend(join(dir, "repo")), { password: "secret" });
    await backup(repo, { paths: [join(dir, "data")], source: "app", time: new Date(NOW.getTime() - DAY), workers: 1 });
    await repo.close();
  };

  it("a snapshot of the source made by hand counts: ok (exit 0)", async () => {
    await writeState(12);
    await writePid();
    await backupByHand();
    const r = await cli(["health"]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /^healthy: \d+ checks, 0 need attention$/m);
  });

  it("status: jobs, repositories and sources as tables, and the same as JSON", async () => {
    await writeState(2);
    await writePid();
    await backupByHand();
    const r = await cli(["status"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^daemon: running \(pid \d+, http:\/\/127\.0\.0\.1:1\)$/m);
    assert.match(r.out, /^Job +What +Schedule +State +Last success +Next run +Added$/m);
    assert.match(r.out, /^weekly +backup +every 7d +ok +2 d 0 h ago .* 4\.0 KiB$/m);
    assert.match(r.out, /^main +local +ok +1 +[\d.]+ KiB$/m);
    assert.match(r.out, /^app +24 h ago$/m);
    assert.match(r.out, /^health: ok$/m);
    const j = await cli(["--json", "status"]);
    const doc = JSON.parse(j.out) as { jobs: { name: string; lastSuccess: string; ageSeconds: number; bytesAdded: number }[]; repositories: { name: string; snapshots: number; snapshotsBySource: Record<string, number> }[]; daemon: { running: boolean }; sources: { name: string; newest: Record<string, string> }[] };
    assert.equal(doc.jobs[0]?.ageSeconds, 2 * 86400);
    assert.equal(doc.jobs[0]?.bytesAdded, 4096);
    assert.deepEqual(doc.repositories[0]?.snapshotsBySource, { app: 1 });
    assert.equal(doc.daemon.running, true);
    assert.ok(doc.sources[0]?.newest.main !== undefined);
  });

  it("a repository that is not there is critical, with the command that creates it; with two, 3-2-1 is judged", async () => {
    await backupByHand();
    const text = await readFile(config, "utf8");
    await writeFile(config, text.replace("  main: {url: ./repo, password: {file: pw}}", "  main: {url: ./repo, password: {file: pw}}\n  usb: {url: ./usb, password: {file: pw}}"));
    try {
      const r = await cli(["health"]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /^CRIT {2}repository usb cannot be read: There is no repository usb at .*\n {6}→ create it: coffer -r usb init$/m);
      assert.match(r.out, /^WARN {2}source app: the newest snapshot \([0-9a-f]{8}, .*\): it is in 1 repository \(main\), not two\n {6}→ copy it: add a job \(what: copy, repository: main, to: \[usb\]\)/m);
    } finally {
      await writeFile(config, text);
    }
  });
});
