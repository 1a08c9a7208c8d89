/**
 * The status document: per job its schedule, last run and result, last success and its age,
 * next run, failures and bytes added; per repository its snapshots (by source), size, locks;
 * per source its newest snapshot in each repository; the daemon. The same document is
 * `GET /status`, `coffer status --json`, and what `coffer status` draws as tables. Pure.
 */
import type { HealthJob, HealthReport } from "./health.js";
import type { RepositoryReport } from "./repository-facts.js";
import type { DaemonState, RunRecord } from "./state.js";

export interface JobStatus {
  name: string;
  what: string;
  enabled: boolean;
  schedule: string;
  repository?: string;
  source?: string;
  running: boolean;
  lastRun?: RunRecord;
  lastSuccess?: string;
  /** Seconds since the last success. */
  ageSeconds?: number;
  nextRun?: string | null;
  consecutiveFailures: number;
  lastError?: string;
  bytesAdded?: number;
}

export interface RepositoryStatus {
  name: string;
  url: string;
  backend: string;
  offsite: boolean;
  reachable?: boolean;
  error?: string;
  sizeBytes?: number;
  snapshots?: number;
  snapshotsBySource?: Record<string, number>;
  newestBySource?: Record<string, string>;
  pendingChanges?: number;
  locks?: RepositoryReport["locks"];
  checkedAt?: string;
}

export interface StatusDocument {
  config?: string;
  checkedAt: string;
  daemon: { running: boolean; pid?: number; startedAt?: string; http?: string; stateDir?: string };
  jobs: JobStatus[];
  repositories: RepositoryStatus[];
  sources: { name: string; newest: Record<string, string> }[];
  health?: HealthReport;
}

export interface StatusInput {
  now: Date;
  config?: string;
  jobs: readonly (HealthJob & { schedule: HealthJob["schedule"] & { text?: string } })[];
  repositories: readonly { name: string; url: string; backend: string; offsite: boolean }[];
  sources: readonly string[];
  state: DaemonState;
  /** Fresh reports, else the state's facts are shown. */
  reports?: readonly RepositoryReport[];
  running?: readonly string[];
  daemon: StatusDocument["daemon"];
  health?: HealthReport;
}

export function buildStatus(i: StatusInput): StatusDocument {
  const jobs: JobStatus[] = i.jobs.map((j) => {
    const js = i.state.jobs[j.name];
    const last = js?.lastSuccess?.startedAt;
    return {
      name: j.name,
      what: j.what,
      enabled: j.enabled,
      schedule: j.schedule.text ?? "",
      ...(j.repository !== undefined ? { repository: j.repository } : {}),
      ...(j.source !== undefined ? { source: j.source } : {}),
      running: i.running?.includes(j.name) ?? js?.inFlight !== undefined,
      ...(js?.lastRun ? { lastRun: js.lastRun } : {}),
      ...(last !== undefined ? { lastSuccess: last, ageSeconds: Math.round((i.now.getTime() - Date.parse(last)) / 1000) } : {}),
      ...(js?.nextRun !== undefined ? { nextRun: js.nextRun } : {}),
      consecutiveFailures: js?.consecutiveFailures ?? 0,
      ...(js && js.consecutiveFailures > 0 && js.lastRun?.error ? { lastError: js.lastRun.error.message } : {}),
      ...(js?.lastSuccess?.bytesAdded !== undefined ? { bytesAdded: js.lastSuccess.bytesAdded } : {}),
    };
  });
  const repositories: RepositoryStatus[] = i.repositories.map((rc) => {
    const report = i.reports?.find((x) => x.name === rc.name);
    const r = report ?? i.state.repositories[rc.name];
    return {
      name: rc.name,
      url: rc.url,
      backend: rc.backend,
      offsite: rc.offsite,
      ...(r
        ? {
            reachable: r.reachable,
            ...(r.error !== undefined ? { error: r.error } : {}),
            ...(r.sizeBytes !== undefined ? { sizeBytes: r.sizeBytes } : {}),
            ...(r.snapshots !== undefined ? { snapshots: r.snapshots } : {}),
            ...(r.snapshotsBySource ? { snapshotsBySource: r.snapshotsBySource } : {}),
            ...(r.newestBySource ? { newestBySource: r.newestBySource } : {}),
            ...(report?.pending ? { pendingChanges: report.pending.length } : {}),
            ...(report?.locks ? { locks: report.locks } : {}),
            checkedAt: r.checkedAt,
          }
        : {}),
    };
  });
  const sources = i.sources.map((name) => {
    const newest: Record<string, string> = {};
    for (const r of repositories) {
      const t = r.newestBySource?.[name];
      if (t !== undefined) newest[r.name] = t;
    }
    return { name, newest };
  });
  return {
    ...(i.config !== undefined ? { config: i.config } : {}),
    checkedAt: i.now.toISOString(),
    daemon: i.daemon,
    jobs,
    repositories,
    sources,
    ...(i.health ? { health: i.health } : {}),
  };
}
