import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluateHealth, type HealthFacts, type HealthJob } from "../../src/daemon/health.js";
import { renderMetrics } from "../../src/daemon/metrics.js";
import type { RepositoryReport } from "../../src/daemon/repository-facts.js";
import { serviceUnit, systemdQuote } from "../../src/daemon/service-unit.js";
import { emptyState, type JobState, type RunRecord } from "../../src/daemon/state.js";
import { parseDuration } from "../../src/retention/index.js";

const NOW = new Date("2026-06-15T12:00:00Z");
const DAY = 86_400_000;
const ago = (days: number): string => new Date(NOW.getTime() - days * DAY).toISOString();
const thresholds = { lateFactor: 1.5, criticalFactor: 3, pendingMaxAge: "7d", minFreeSpace: { bytes: 1 << 30 }, requireOffsite: false };
const weekly: HealthJob = { name: "weekly", what: "backup", enabled: true, schedule: { everyDuration: parseDuration("7d"), cron: [], timeZone: "UTC" }, repository: "main", source: "app" };
const ok = (startedAt: string): RunRecord => ({ startedAt, finishedAt: startedAt, durationMs: 1000, result: "success", attempts: 1 });
const repo = (name: string, over: Partial<RepositoryReport> = {}): RepositoryReport => ({ name, backend: "local", offsite: false, checkedAt: NOW.toISOString(), reachable: true, snapshots: 0, snapshotKeys: [], ...over });

function facts(over: Partial<HealthFacts> & { jobStates?: Record<string, JobState> } = {}): HealthFacts {
  const state = emptyState();
  Object.assign(state.jobs, over.jobStates ?? {});
  return { now: NOW, thresholds, jobs: [weekly], state, repositories: [repo("main")], disks: [], daemon: { running: true, pid: 1 }, ...over };
}
const js = (over: Partial<JobState>): JobState => ({ since: ago(100), consecutiveFailures: 0, runs: 1, failures: 0, ...over });
const check = (f: HealthFacts, id: string) => evaluateHealth(f).checks.find((c) => c.id === id);

describe("health: backup age against the schedule", () => {
  it("ok within 1.5 intervals, warning beyond, critical beyond 3", () => {
    assert.equal(check(facts({ jobStates: { weekly: js({ lastSuccess: ok(ago(8)) }) } }), "job:weekly")?.status, "ok");
    const late = check(facts({ jobStates: { weekly: js({ lastSuccess: ok(ago(12)) }) } }), "job:weekly");
    assert.equal(late?.status, "warning");
    assert.match(late?.message ?? "", /last success 12 d 0 h ago, expected every 7 d 0 h/);
    assert.match(late?.fix ?? "", /coffer -r main backup --source app/);
    assert.equal(check(facts({ jobStates: { weekly: js({ lastSuccess: ok(ago(22)) }) } }), "job:weekly")?.status, "critical");
  });

  it("a snapshot made by hand counts as a success", () => {
    const f = facts({ jobStates: { weekly: js({ lastSuccess: ok(ago(30)) }) }, repositories: [repo("main", { newestBySource: { app: ago(2) } })] });
    assert.equal(check(f, "job:weekly")?.status, "ok");
  });

  it("a new job has time for its first run; one that never succeeded is critical", () => {
    assert.equal(check(facts({ jobStates: { weekly: js({ since: ago(1) }) } }), "job:weekly")?.status, "ok");
    const never = check(facts({ jobStates: { weekly: js({ since: ago(30), consecutiveFailures: 4, lastRun: { ...ok(ago(1)), result: "failure", error: { message: "disk gone" } } }) } }), "job:weekly");
    assert.equal(never?.status, "critical");
    assert.match(never?.message ?? "", /never succeeded; it failed 4 times in a row, last: disk gone/);
  });

  it("a failing job is a warning even while its last success is recent", () => {
    const f = facts({ jobStates: { weekly: js({ lastSuccess: ok(ago(1)), consecutiveFailures: 1, lastFailure: { ...ok(ago(0.1)), result: "failure", error: { message: "no route to host" } } }) }, logFile: "/s/daemon.log" });
    const c = check(f, "job:weekly");
    assert.equal(c?.status, "warning");
    assert.match(c?.fix ?? "", /see the daemon's log \(\/s\/daemon.log\)/);
  });

  it("the daemon not running is critical when there are jobs", () => {
    const f = facts({ daemon: { running: false } });
    assert.equal(check(f, "daemon")?.status, "critical");
    assert.match(check(f, "daemon")?.fix ?? "", /coffer service install --user/);
    assert.equal(evaluateHealth(f).status, "critical");
  });
});

describe("health: repositories, checks, pending changes, disks", () => {
  it("an unreachable repository is critical, with a fix by cause", () => {
    const missing = check(facts({ repositories: [repo("main", { reachable: false, error: "There is no repository", errorCode: "REPO_MISSING" })] }), "repository:main");
    assert.equal(missing?.status, "critical");
    assert.equal(missing?.fix, "create it: coffer -r main init");
    const pw = check(facts({ repositories: [repo("main", { reachable: false, error: "wrong", errorCode: "WRONG_PASSWORD" })] }), "repository:main");
    assert.match(pw?.fix ?? "", /password source of repositories\.main/);
  });

  it("a stale lock is a warning with unlock as the fix", () => {
    const c = check(facts({ repositories: [repo("main", { locks: [{ exclusive: true, pid: 4, host: "h", time: ago(1), stale: true }] })] }), "repository:main");
    assert.equal(c?.status, "warning");
    assert.equal(c?.fix, "coffer -r main unlock");
  });

  it("the last check: damage is critical; too old is a warning when check-max-age is set", () => {
    const checkJob: HealthJob = { name: "verify", what: "check", enabled: true, schedule: { everyDuration: parseDuration("7d"), cron: [] }, repository: "main" };
    const damaged = facts({ jobs: [checkJob], jobStates: { verify: js({ lastRun: { ...ok(ago(1)), result: "failure", error: { code: "CORRUPT", message: "pack 1a2b is damaged" } } }) } });
    assert.equal(check(damaged, "check:main")?.status, "critical");
    assert.match(check(damaged, "check:main")?.fix ?? "", /check --read-data/);
    const old = facts({ jobs: [], thresholds: { ...thresholds, checkMaxAge: "30d" }, repositories: [repo("main", { lastVerified: ago(40) })] });
    assert.equal(check(old, "check:main")?.status, "warning");
    assert.match(check(old, "check:main")?.fix ?? "", /add a job \(what: check/);
    const fresh = facts({ jobs: [], thresholds: { ...thresholds, checkMaxAge: "30d" }, repositories: [repo("main", { lastVerified: ago(3) })] });
    assert.equal(check(fresh, "check:main")?.status, "ok");
  });

  it("pre-change snapshots pending longer than the threshold", () => {
    const f = facts({ repositories: [repo("main", { pending: [{ id: "abcdef0123", time: ago(10), ticket: "OPS-7" }, { id: "99", time: ago(1) }] })] });
    const c = check(f, "pending:main");
    assert.equal(c?.status, "warning");
    assert.match(c?.message ?? "", /1 pre-change snapshot is pending in main for more than 7d \(oldest abcdef01, OPS-7/);
    assert.match(c?.fix ?? "", /change verify ID/);
    assert.equal(check(facts({ repositories: [repo("main", { pending: [{ id: "99", time: ago(1) }] })] }), "pending:main"), undefined);
  });

  it("free space under the minimum is a warning, under a quarter of it critical", () => {
    const disk = (free: number) => check(facts({ disks: [{ path: "/srv/repo", what: "repository main", freeBytes: free, totalBytes: 100 * 2 ** 30 }] }), "disk:/srv/repo");
    assert.equal(disk(5 * 2 ** 30)?.status, "ok");
    assert.equal(disk(2 ** 29)?.status, "warning");
    assert.equal(disk(2 ** 27)?.status, "critical");
    assert.match(disk(2 ** 27)?.fix ?? "", /coffer -r main prune/);
    const pct = check(facts({ thresholds: { ...thresholds, minFreeSpace: { percent: 10 } }, disks: [{ path: "/x", what: "the daemon's state", freeBytes: 5 * 2 ** 30, totalBytes: 100 * 2 ** 30 }] }), "disk:/x");
    assert.equal(pct?.status, "warning");
  });
});

describe("health: 3-2-1", () => {
  const keys = (...k: [string, string, string][]) => k.map(([key, source, time]) => ({ key, source, time }));

  it("is judged only with several repositories", () => {
    assert.equal(evaluateHealth(facts({ repositories: [repo("main", { snapshotKeys: keys(["a", "app", ago(1)]) })] })).checks.filter((c) => c.id.startsWith("3-2-1")).length, 0);
  });

  it("ok when the newest snapshot is in two repositories of two kinds, one off-site", () => {
    const f = facts({
      thresholds: { ...thresholds, requireOffsite: true },
      repositories: [repo("main", { snapshotKeys: keys(["a", "app", ago(2)], ["b", "app", ago(1.5)]) }), repo("cloud", { backend: "s3", offsite: true, snapshotKeys: keys(["b", "app", ago(1.5)]) })],
    });
    assert.equal(check(f, "3-2-1:app")?.status, "ok");
    assert.match(check(f, "3-2-1:app")?.message ?? "", /main \(local\), cloud \(s3, off-site\)/);
  });

  it("warns when the newest snapshot is in one repository, says how to copy it", () => {
    const f = facts({ repositories: [repo("main", { snapshotKeys: keys(["a", "app", ago(3)]) }), repo("usb", { snapshotKeys: [] })] });
    const c = check(f, "3-2-1:app");
    assert.equal(c?.status, "warning");
    assert.match(c?.message ?? "", /it is in 1 repository \(main\), not two/);
    assert.match(c?.fix ?? "", /what: copy, repository: main, to: \[usb\]/);
  });

  it("warns when all copies are on one kind of storage, or none off-site", () => {
    const same = facts({ repositories: [repo("main", { snapshotKeys: keys(["a", "app", ago(3)]) }), repo("usb", { snapshotKeys: keys(["a", "app", ago(3)]) })] });
    assert.match(check(same, "3-2-1:app")?.message ?? "", /all its copies are on local storage/);
    const noOff = facts({ thresholds: { ...thresholds, requireOffsite: true }, repositories: [repo("main", { snapshotKeys: keys(["a", "app", ago(3)]) }), repo("b2", { backend: "s3", snapshotKeys: keys(["a", "app", ago(3)]) })] });
    assert.match(check(noOff, "3-2-1:app")?.message ?? "", /none of its copies is off-site/);
  });

  it("a snapshot younger than a day not copied yet: the one before it is judged", () => {
    const f = facts({ repositories: [repo("main", { snapshotKeys: keys(["old", "app", ago(2)], ["new", "app", ago(0.2)]) }), repo("cloud", { backend: "s3", snapshotKeys: keys(["old", "app", ago(2)]) })] });
    assert.equal(check(f, "3-2-1:app")?.status, "ok");
  });
});

describe("metrics", () => {
  it("renders Prometheus text with escaped labels and only known values", () => {
    const state = emptyState();
    state.jobs['we"ird\\job'] = js({ lastSuccess: { ...ok("2026-06-15T10:00:00.000Z"), bytesAdded: 42, durationMs: 1500 }, lastRun: { ...ok("2026-06-15T10:00:00.000Z"), durationMs: 1500 }, runs: 3, failures: 1 });
    state.repositories.main = { checkedAt: "2026-06-15T11:00:00.000Z", reachable: true, sizeBytes: 1000, snapshots: 2, snapshotsBySource: { app: 2 }, newestBySource: { app: "2026-06-15T10:00:00.000Z" } };
    const text = renderMetrics({ jobs: [{ ...weekly, name: 'we"ird\\job', retries: 0, retryDelayMs: 0, repositories: ["main"] }], state, running: [], health: "warning" });
    assert.match(text, /^coffer_job_last_success_timestamp_seconds\{job="we\\"ird\\\\job",what="backup"\} 1781517600$/m);
    assert.match(text, /^coffer_job_last_bytes_added\{job="we\\"ird\\\\job",what="backup"\} 42$/m);
    assert.match(text, /^coffer_job_last_duration_seconds\{.*\} 1\.5$/m);
    assert.match(text, /^# TYPE coffer_job_failures_total counter$/m);
    assert.match(text, /^coffer_repository_snapshots\{repository="main",source="app"\} 2$/m);
    assert.match(text, /^coffer_health_status 1$/m);
    assert.doesNotMatch(text, /coffer_job_next_run_timestamp_seconds/, "no sample without a value");
    assert.ok(text.endsWith("\n"));
  });
});

describe("systemd unit", () => {
  it("runs coffer daemon for the configuration, counts exit 130 as a clean stop, quotes paths", () => {
    const text = serviceUnit({ config: "/home/u/my app/coffer.yaml", node: "/usr/bin/node", coffer: "/opt/coffer/bin/coffer.js", user: true, environmentFile: "/home/u/.local/state/coffer/daemon.env" });
    assert.match(text, /^ExecStart=\/usr\/bin\/node \/opt\/coffer\/bin\/coffer\.js --config "\/home\/u\/my app\/coffer\.yaml" daemon$/m);
    assert.match(text, /^SuccessExitStatus=130$/m);
    assert.match(text, /^WantedBy=default\.target$/m);
    assert.match(text, /^EnvironmentFile=-\/home\/u\/\.local\/state\/coffer\/daemon\.env$/m);
    const sys = serviceUnit({ config: "/etc/coffer.yaml", node: "/usr/bin/node", coffer: "/c.js", user: false, runAs: { name: "alice", home: "/home/alice" } });
    assert.match(sys, /^User=alice$/m);
    assert.match(sys, /^WantedBy=multi-user\.target$/m);
    assert.equal(systemdQuote("100%"), "100%%");
    assert.equal(systemdQuote('a"b $x'), '"a\\"b $$x"');
  });
});
