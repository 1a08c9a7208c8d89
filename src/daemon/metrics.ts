/**
 * `GET /metrics`: the daemon's facts in the Prometheus text format (version 0.0.4). Per job:
 * last success and last run times, last duration, bytes added, consecutive failures, run and
 * failure counters, next run, running; per repository: reachable, size, snapshots per source
 * and the newest snapshot's time per source; the health status (0 ok, 1 warning, 2 critical).
 */
import type { DaemonJob } from "./daemon-job.js";
import type { HealthStatus } from "./health.js";
import type { DaemonState } from "./state.js";

export interface MetricsInput {
  jobs: readonly DaemonJob[];
  state: DaemonState;
  /** Names of the jobs running now. */
  running: readonly string[];
  health?: HealthStatus;
  startedAt?: Date;
}

type Labels = Record<string, string>;

export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string, samples: [Labels, number | undefined][]): void => {
    const present = samples.filter((s): s is [Labels, number] => s[1] !== undefined && Number.isFinite(s[1]));
    if (present.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of present) out.push(`${name}${labelText(labels)} ${formatValue(v)}`);
  };
  const secs = (iso: string | undefined | null): number | undefined => (iso ? Date.parse(iso) / 1000 : undefined);
  const perJob = (fn: (j: DaemonJob) => number | undefined): [Labels, number | undefined][] => m.jobs.map((j) => [{ job: j.name, what: j.what }, fn(j)]);
  const st = (j: DaemonJob) => m.state.jobs[j.name];

  family("coffer_up", "gauge", "1 while the daemon runs.", [[{}, 1]]);
  family("coffer_daemon_start_time_seconds", "gauge", "When the daemon started (Unix time).", [[{}, m.startedAt ? m.startedAt.getTime() / 1000 : undefined]]);
  family("coffer_health_status", "gauge", "Worst health check: 0 ok, 1 warning, 2 critical.", [[{}, m.health === undefined ? undefined : { ok: 0, warning: 1, critical: 2 }[m.health]]]);
  family("coffer_job_last_success_timestamp_seconds", "gauge", "Start of the job's last successful run (Unix time).", perJob((j) => secs(st(j)?.lastSuccess?.startedAt)));
  family("coffer_job_last_run_timestamp_seconds", "gauge", "Start of the job's last finished run, whatever its result (Unix time).", perJob((j) => secs(st(j)?.lastRun?.startedAt)));
  family("coffer_job_last_success", "gauge", "1 if the job's last run succeeded, 0 if it failed.", perJob((j) => (st(j)?.lastRun ? (st(j)?.consecutiveFailures === 0 ? 1 : 0) : undefined)));
  family("coffer_job_last_duration_seconds", "gauge", "How long the job's last run took.", perJob((j) => (st(j)?.lastRun ? (st(j)?.lastRun?.durationMs ?? 0) / 1000 : undefined)));
  family("coffer_job_last_bytes_added", "gauge", "Bytes the job's last successful run added to the repository.", perJob((j) => st(j)?.lastSuccess?.bytesAdded));
  family("coffer_job_consecutive_failures", "gauge", "Failed runs of the job since its last success.", perJob((j) => st(j)?.consecutiveFailures ?? 0));
  family("coffer_job_runs_total", "counter", "Finished runs of the job.", perJob((j) => st(j)?.runs ?? 0));
  family("coffer_job_failures_total", "counter", "Failed runs of the job.", perJob((j) => st(j)?.failures ?? 0));
  family("coffer_job_next_run_timestamp_seconds", "gauge", "When the job runs next (Unix time).", perJob((j) => secs(st(j)?.nextRun)));
  family("coffer_job_running", "gauge", "1 while the job runs (or waits for its repository).", perJob((j) => (m.running.includes(j.name) ? 1 : 0)));

  const repos = Object.entries(m.state.repositories);
  family("coffer_repository_reachable", "gauge", "1 if the repository could be opened at the last look.", repos.map(([name, r]) => [{ repository: name }, r.reachable ? 1 : 0]));
  family("coffer_repository_size_bytes", "gauge", "Bytes stored in the repository.", repos.map(([name, r]) => [{ repository: name }, r.sizeBytes]));
  family("coffer_repository_snapshots", "gauge", "Snapshots in the repository, by source.", repos.flatMap(([name, r]) => Object.entries(r.snapshotsBySource ?? {}).map(([source, n]): [Labels, number] => [{ repository: name, source }, n])));
  family(
    "coffer_repository_newest_snapshot_timestamp_seconds",
    "gauge",
    "Time of the newest snapshot in the repository, by source (Unix time).",
    repos.flatMap(([name, r]) => Object.entries(r.newestBySource ?? {}).map(([source, t]): [Labels, number | undefined] => [{ repository: name, source }, secs(t)])),
  );
  family("coffer_repository_checked_timestamp_seconds", "gauge", "When these repository facts were read (Unix time).", repos.map(([name, r]) => [{ repository: name }, secs(r.checkedAt)]));
  return out.join("\n") + "\n";
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}
