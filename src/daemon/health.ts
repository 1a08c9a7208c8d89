/**
 * Health: pure checks over gathered facts (the daemon's state, what each repository holds, free
 * disk space, whether the daemon runs), each `ok`, `warning` or `critical` with one sentence
 * saying what is wrong and one saying what to do. The report's status is the worst of its
 * checks; `coffer health` exits 0, 1 or 2 by it and `/healthz` answers 503 when critical.
 *
 * Thresholds: a job is late when its last success is older than `lateFactor` times its expected
 * interval (warning) or `criticalFactor` times (critical); free space under the minimum is a
 * warning, under a quarter of it critical.
 */
import { CalendarBuckets, parseDuration } from "../retention/index.js";
import type { RepositoryReport } from "./repository-facts.js";
import { expectedInterval, type ScheduleSpec } from "./schedule.js";
import type { DaemonState, JobState } from "./state.js";

export type HealthStatus = "ok" | "warning" | "critical";

export interface HealthCheck {
  /** `daemon`, `job:NAME`, `repository:NAME`, `check:NAME`, `pending:NAME`, `disk:PATH`, `3-2-1:SOURCE`. */
  id: string;
  status: HealthStatus;
  message: string;
  /** What to do, for anything not ok. */
  fix?: string;
}

export interface HealthReport {
  status: HealthStatus;
  checkedAt: string;
  checks: HealthCheck[];
}

/** The configuration's `health` section has this shape. */
export interface HealthThresholds {
  lateFactor: number;
  criticalFactor: number;
  checkMaxAge?: string;
  pendingMaxAge: string;
  minFreeSpace: { bytes: number } | { percent: number };
  requireOffsite: boolean;
}

export interface HealthJob {
  name: string;
  what: string;
  enabled: boolean;
  schedule: ScheduleSpec;
  repository?: string;
  source?: string;
  to?: readonly string[];
}

export interface DiskFacts {
  path: string;
  /** What lives there: "repository main", "daemon state". */
  what: string;
  freeBytes: number;
  totalBytes: number;
}

export interface HealthFacts {
  now: Date;
  thresholds: HealthThresholds;
  jobs: readonly HealthJob[];
  state?: DaemonState;
  repositories: readonly RepositoryReport[];
  disks: readonly DiskFacts[];
  /** undefined: not known (not checked). */
  daemon?: { running: boolean; pid?: number; startedAt?: string; stateDir?: string };
  /** Where the daemon's log is, for the fixes. */
  logFile?: string;
}

const RANK: Record<HealthStatus, number> = { ok: 0, warning: 1, critical: 2 };

export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let w: HealthStatus = "ok";
  for (const s of statuses) if (RANK[s] > RANK[w]) w = s;
  return w;
}

export function evaluateHealth(f: HealthFacts): HealthReport {
  const checks: HealthCheck[] = [
    ...daemonCheck(f),
    ...f.jobs.filter((j) => j.enabled).map((j) => jobCheck(j, f)),
    ...f.repositories.flatMap((r) => repositoryChecks(r, f)),
    ...f.disks.map((d) => diskCheck(d, f.thresholds)),
    ...threeTwoOne(f),
  ];
  return { status: worst(checks.map((c) => c.status)), checkedAt: f.now.toISOString(), checks };
}

/** "3d04h", "12 min": ages for people. */
export function formatAge(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function daemonCheck(f: HealthFacts): HealthCheck[] {
  if (f.daemon === undefined || !f.jobs.some((j) => j.enabled)) return [];
  if (f.daemon.running) return [{ id: "daemon", status: "ok", message: `the daemon runs (pid ${f.daemon.pid ?? "?"}${f.daemon.startedAt ? `, since ${f.daemon.startedAt}` : ""})` }];
  return [{ id: "daemon", status: "critical", message: "the daemon is not running, so no job runs", fix: "start it: coffer daemon (or install it as a service: coffer service install --user, then systemctl --user enable --now coffer)" }];
}

function jobCheck(j: HealthJob, f: HealthFacts): HealthCheck {
  const id = `job:${j.name}`;
  const js: JobState | undefined = f.state?.jobs[j.name];
  const interval = expectedInterval(j.schedule, f.now);
  // A backup made by hand counts: the repository's newest snapshot of the source.
  const fromRepo = j.what === "backup" && j.repository !== undefined && j.source !== undefined ? f.repositories.find((r) => r.name === j.repository)?.newestBySource?.[j.source] : undefined;
  const times = [js?.lastSuccess?.startedAt, fromRepo].filter((t): t is string => t !== undefined).map((t) => Date.parse(t));
  const last = times.length > 0 ? Math.max(...times) : undefined;
  const byHand = runByHand(j);
  const failing = js !== undefined && js.consecutiveFailures > 0 ? `; it failed ${js.consecutiveFailures} time${js.consecutiveFailures === 1 ? "" : "s"} in a row, last: ${js.lastFailure?.error?.message ?? js.lastRun?.error?.message ?? "?"}` : "";
  const logHint = f.logFile !== undefined ? `see the daemon's log (${f.logFile}) and ` : "";
  if (interval === undefined) {
    if (failing) return { id, status: "warning", message: `job ${j.name} has no further run scheduled${failing}`, fix: `${logHint}run it by hand: ${byHand}` };
    return { id, status: "ok", message: `job ${j.name} has no further run scheduled` };
  }
  const late = interval * f.thresholds.lateFactor;
  const critical = interval * f.thresholds.criticalFactor;
  const expected = `expected every ${formatAge(interval)}`;
  if (last === undefined) {
    const since = js !== undefined ? Date.parse(js.since) : undefined;
    const waited = since !== undefined ? f.now.getTime() - since : undefined;
    if (waited !== undefined && waited < late && !failing) return { id, status: "ok", message: `job ${j.name} has not run yet${js?.nextRun ? `; first run ${js.nextRun}` : ""}` };
    const status = waited !== undefined && waited < critical ? "warning" : "critical";
    return { id, status, message: `job ${j.name} (${j.what}) has never succeeded${failing}`, fix: `${logHint}run it by hand to see why: ${byHand}` };
  }
  const age = f.now.getTime() - last;
  const message = `job ${j.name} (${j.what}): last success ${formatAge(age)} ago, ${expected}${failing}`;
  if (age > critical) return { id, status: "critical", message, fix: `${logHint}run it by hand: ${byHand}` };
  if (age > late || failing) return { id, status: "warning", message, fix: `${logHint}run it by hand: ${byHand}` };
  return { id, status: "ok", message };
}

function runByHand(j: HealthJob): string {
  const r = j.repository !== undefined ? ` -r ${j.repository}` : "";
  switch (j.what) {
    case "backup":
      return `coffer${r} backup --source ${j.source ?? "NAME"}`;
    case "check":
    case "prune":
    case "forget":
      return `coffer${r} ${j.what}${j.what === "forget" ? " --dry-run" : ""}`;
    case "copy":
      return `coffer copy --from-repo ${j.repository ?? "FROM"} --to-repo ${j.to?.[0] ?? "TO"}`;
    case "rotate":
      return "coffer rotate";
    case "bak-clean":
      return "coffer bak clean --committed";
    default:
      return `the ${j.what} of job ${j.name} (coffer status shows its last error)`;
  }
}

function repositoryChecks(r: RepositoryReport, f: HealthFacts): HealthCheck[] {
  const out: HealthCheck[] = [];
  if (!r.reachable) {
    const fix =
      r.errorCode === "REPO_MISSING"
        ? `create it: coffer -r ${r.name} init`
        : r.errorCode === "NO_PASSWORD" || r.errorCode === "WRONG_PASSWORD"
          ? `check the password source of repositories.${r.name} in the configuration`
          : "check its URL and that the storage is reachable (mounted, network up, credentials valid)";
    return [{ id: `repository:${r.name}`, status: "critical", message: `repository ${r.name} cannot be read: ${r.error ?? "?"}`, fix }];
  }
  const stale = (r.locks ?? []).filter((l) => l.stale);
  out.push(
    stale.length > 0
      ? { id: `repository:${r.name}`, status: "warning", message: `repository ${r.name} has ${stale.length} stale lock${stale.length === 1 ? "" : "s"} (left by a process that is gone)`, fix: `coffer -r ${r.name} unlock` }
      : { id: `repository:${r.name}`, status: "ok", message: `repository ${r.name} is reachable: ${r.snapshots ?? 0} snapshots` },
  );
  out.push(...checkCheck(r, f));
  const pendingMax = parseDuration(f.thresholds.pendingMaxAge);
  const cutoff = new CalendarBuckets().subtract(f.now, pendingMax).toISOString();
  const old = (r.pending ?? []).filter((p) => p.time < cutoff);
  if (old.length > 0) {
    const first = old[0];
    out.push({
      id: `pending:${r.name}`,
      status: "warning",
      message: `${old.length} pre-change snapshot${old.length === 1 ? " is" : "s are"} pending in ${r.name} for more than ${pendingMax.text} (oldest ${first?.id.slice(0, 8)}${first?.ticket ? `, ${first.ticket}` : ""}, ${first?.time})`,
      fix: `once the change is verified: coffer -r ${r.name} change verify ID; if it was abandoned: coffer -r ${r.name} change retire ID`,
    });
  }
  return out;
}

function checkCheck(r: RepositoryReport, f: HealthFacts): HealthCheck[] {
  const id = `check:${r.name}`;
  const jobs = f.jobs.filter((j) => j.what === "check" && j.repository === r.name);
  const states = jobs.map((j) => f.state?.jobs[j.name]).filter((s): s is JobState => s !== undefined);
  const failed = states.find((s) => s.lastRun !== undefined && s.lastRun.result !== "success" && s.lastRun.error?.code === "CORRUPT");
  if (failed?.lastRun) {
    return [{ id, status: "critical", message: `the last check of ${r.name} found damage: ${failed.lastRun.error?.message ?? "?"}`, fix: `coffer -r ${r.name} check --read-data, then coffer -r ${r.name} repair index if the index is damaged` }];
  }
  const lastOk = [...states.map((s) => s.lastSuccess?.startedAt), r.lastVerified].filter((t): t is string => t !== undefined).sort().pop();
  if (f.thresholds.checkMaxAge === undefined) {
    if (jobs.length === 0) return [];
    return [{ id, status: "ok", message: lastOk !== undefined ? `last check of ${r.name} passed (${lastOk})` : `no check of ${r.name} has run yet` }];
  }
  const max = parseDuration(f.thresholds.checkMaxAge);
  const cutoff = new CalendarBuckets().subtract(f.now, max).toISOString();
  if (lastOk === undefined || lastOk < cutoff) {
    return [
      {
        id,
        status: "warning",
        message: lastOk === undefined ? `repository ${r.name} has never been checked` : `the last passed check of ${r.name} is older than ${max.text} (${lastOk})`,
        fix: jobs.length === 0 ? `add a job (what: check, repository: ${r.name}, every: 7d, read-data-subset: 1/7), or run coffer -r ${r.name} check` : `coffer -r ${r.name} check`,
      },
    ];
  }
  return [{ id, status: "ok", message: `last check of ${r.name} passed (${lastOk})` }];
}

function diskCheck(d: DiskFacts, t: HealthThresholds): HealthCheck {
  const min = "bytes" in t.minFreeSpace ? t.minFreeSpace.bytes : (d.totalBytes * t.minFreeSpace.percent) / 100;
  const gib = (n: number): string => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const message = `${gib(d.freeBytes)} free on the disk of ${d.what} (${d.path})`;
  if (d.freeBytes >= min) return { id: `disk:${d.path}`, status: "ok", message };
  return {
    id: `disk:${d.path}`,
    status: d.freeBytes < min / 4 ? "critical" : "warning",
    message: `${message}, under the minimum of ${gib(min)}`,
    fix: d.what.startsWith("repository ") ? `free space: coffer -r ${d.what.slice("repository ".length)} prune (after forget with a policy), or move the repository to a larger disk` : "free space on that disk",
  };
}

/**
 * 3-2-1, when there are several repositories: the newest snapshot of each source is in at
 * least two of them, on at least two kinds of storage, one off-site (when asked). A snapshot
 * younger than a day may not have been copied yet: then the newest older one is judged.
 */
function threeTwoOne(f: HealthFacts): HealthCheck[] {
  const repos = f.repositories.filter((r) => r.reachable && r.snapshotKeys !== undefined);
  if (f.repositories.length < 2) return [];
  const sources = new Set(repos.flatMap((r) => (r.snapshotKeys ?? []).map((k) => k.source)));
  const out: HealthCheck[] = [];
  const grace = new Date(f.now.getTime() - 86_400_000).toISOString();
  for (const source of [...sources].sort()) {
    const all = repos.flatMap((r) => (r.snapshotKeys ?? []).filter((k) => k.source === source)).sort((a, b) => (a.time < b.time ? 1 : -1));
    const holdersOf = (key: string): RepositoryReport[] => repos.filter((r) => r.snapshotKeys?.some((k) => k.key === key));
    const judge = (key: string): string[] => {
      const h = holdersOf(key);
      const problems: string[] = [];
      if (h.length < 2) problems.push(`it is in ${h.length} repository (${h.map((r) => r.name).join(", ")}), not two`);
      else if (new Set(h.map((r) => r.backend)).size < 2) problems.push(`all its copies are on ${h[0]?.backend} storage`);
      if (f.thresholds.requireOffsite && !h.some((r) => r.offsite)) problems.push("none of its copies is off-site");
      return problems;
    };
    const newest = all[0];
    if (newest === undefined) continue;
    let judged = newest;
    let problems = judge(newest.key);
    if (problems.length > 0 && newest.time > grace) {
      const older = all.find((k) => k.time <= grace);
      if (older !== undefined && judge(older.key).length === 0) {
        judged = older;
        problems = [];
      }
    }
    const name = source === "" ? "snapshots without a source" : `source ${source}`;
    const holders = holdersOf(judged.key);
    if (problems.length === 0) {
      out.push({ id: `3-2-1:${source}`, status: "ok", message: `${name}: newest snapshot in ${holders.map((r) => `${r.name} (${r.backend}${r.offsite ? ", off-site" : ""})`).join(", ")}` });
    } else {
      const targets = f.repositories.filter((r) => !holders.includes(r)).map((r) => r.name);
      const from = holders[0]?.name ?? "REPO";
      out.push({
        id: `3-2-1:${source}`,
        status: "warning",
        message: `${name}: the newest snapshot (${judged.key.slice(0, 8)}, ${judged.time}): ${problems.join("; ")}`,
        fix: `copy it: add a job (what: copy, repository: ${from}, to: [${targets.join(", ") || "an off-site repository"}]) or run coffer copy --from-repo ${from} --to-repo ${targets[0] ?? "REPO"}; mark off-site repositories with offsite: true`,
      });
    }
  }
  return out;
}
