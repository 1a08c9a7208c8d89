/**
 * What each kind of job does, through the same library functions the CLI calls: backup (one
 * configured source into one snapshot, then its policy and prune when the job says so),
 * forget, prune, check (with a read-data subset), copy, rotate, records, bak-clean and command.
 * Each attempt opens what it needs and closes it again; the attempt's signal is passed down, so
 * a stop or a timeout abandons the work the way an interrupted command does (a backup saves no
 * snapshot, a prune stops before it deletes).
 */
import type { BackupJob, CheckJob, CofferConfig, CopyJob, ForgetJob, JobConfig, PruneJob } from "../config/types.js";
import type { Clock } from "../core/clock.js";
import { CofferError } from "../core/errors.js";
import type { Warning } from "../core/warning.js";
import { check } from "../ops/check.js";
import { copy } from "../ops/copy.js";
import { forget } from "../ops/forget.js";
import { prune } from "../ops/prune.js";
import type { Repository } from "../repository/repository.js";
import { backupSource } from "../sources/backup-source.js";
import type { AttemptContext, DaemonJob, JobExecutor, JobOutcome } from "./daemon-job.js";
import { runCommandJob, runRotateJob } from "./file-jobs.js";
import { runBakCleanJob, runRecordsJob } from "./records-jobs.js";
import { openRepository } from "./repository-access.js";
import type { Env } from "./state.js";

export interface JobKindsOptions {
  config: CofferConfig;
  env: Env;
  /** Where `rotate` remembers its last rotations (shared with `coffer rotate`). */
  rotateStateFile: string;
  clock?: Clock;
}

export function createJobExecutor(opts: JobKindsOptions): JobExecutor {
  return async (job: DaemonJob, ctx: AttemptContext): Promise<JobOutcome> => {
    const j = opts.config.jobs[job.name];
    if (j === undefined) throw new CofferError("NOT_FOUND", `The configuration has no job ${job.name}.`);
    switch (j.what) {
      case "backup":
        return backupJob(j, opts, ctx);
      case "forget":
        return withRepository(j.repository, opts, ctx, (repo) => forgetJob(repo, j, ctx));
      case "prune":
        return withRepository(j.repository, opts, ctx, (repo) => pruneJob(repo, j, ctx));
      case "check":
        return withRepository(j.repository, opts, ctx, (repo) => checkJob(repo, j, ctx), { cache: false });
      case "copy":
        return copyJob(j, opts, ctx);
      case "rotate":
        return runRotateJob(j, opts.config, { stateFile: opts.rotateStateFile, ...ctx });
      case "records":
        return runRecordsJob(j, opts.config, ctx);
      case "bak-clean":
        return runBakCleanJob(j, ctx);
      case "command":
        return runCommandJob(j, { env: opts.env, ...ctx });
    }
  };
}

/** The repositories a job uses: jobs sharing one never run at once. */
export function jobRepositories(j: JobConfig): string[] {
  if (j.what === "copy") return [j.repository, ...j.to];
  return "repository" in j ? [j.repository] : [];
}

async function withRepository<T>(name: string, opts: JobKindsOptions, ctx: AttemptContext, fn: (repo: Repository) => Promise<T>, access: { cache?: boolean } = {}): Promise<T> {
  const rc = opts.config.repositories[name];
  if (rc === undefined) throw new CofferError("NOT_FOUND", `The configuration has no repository ${name}.`);
  // A check job verifies the repository itself, not the local cache's copies.
  // A request being retried is logged at once: a job waiting on a server that is down says why.
  const onWarning = (w: Warning): void => ctx.log(`warning: ${w.message}`);
  const repo = await openRepository(rc, { env: opts.env, signal: ctx.signal, onWarning, ...access, ...(opts.clock ? { clock: opts.clock } : {}) });
  try {
    return await fn(repo);
  } finally {
    await repo.close().catch(() => undefined);
  }
}

/** Logs the first warnings of an operation and counts the rest. */
function warningLog(ctx: AttemptContext, limit = 20): { sink: (w: Warning) => void; count: () => number; flush: () => void } {
  let n = 0;
  return {
    sink: (w) => {
      n++;
      if (n <= limit) ctx.log(`warning: ${w.path !== undefined && !w.message.includes(w.path) ? `${w.path}: ` : ""}${w.message}`);
    },
    count: () => n,
    flush: () => {
      if (n > limit) ctx.log(`${n - limit} more warnings not shown`);
    },
  };
}

async function backupJob(j: BackupJob, opts: JobKindsOptions, ctx: AttemptContext): Promise<JobOutcome> {
  const source = opts.config.sources[j.source];
  if (source === undefined) throw new CofferError("NOT_FOUND", `The configuration has no source ${j.source}.`);
  return withRepository(j.repository, opts, ctx, async (repo) => {
    const warnings = warningLog(ctx);
    const r = await backupSource(repo, source, {
      tags: j.tags,
      kind: "scheduled",
      env: opts.env,
      signal: ctx.signal,
      onWarning: warnings.sink,
      onStage: (e) => ctx.log(e.kind === "sqlite" ? `copying the database ${e.path}` : `running the command of source ${source.name}`),
      onStderr: (text) => ctx.log(`source ${source.name}: ${text.trimEnd().slice(0, 500)}`),
    });
    warnings.flush();
    const s = r.summary;
    const parts = [`snapshot ${r.snapshot?.id.slice(0, 8) ?? "?"}`, `${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified files`, `${s.bytes_added} bytes added`];
    if (r.partial) parts.push(`${s.files_failed} unreadable`);
    const details: Record<string, unknown> = { source: source.name, files_new: s.files_new, files_changed: s.files_changed, files_failed: s.files_failed, bytes_total: s.bytes_total };
    if (j.policy !== undefined) {
      const f = await forget(repo, { policy: j.policy.policy, filter: { source: source.name }, signal: ctx.signal, onWarning: warnings.sink });
      parts.push(`${f.removed.length} snapshots forgotten (${j.policy.name})`);
      details.forgotten = f.removed.length;
    }
    if (j.prune) {
      const p = await prune(repo, { signal: ctx.signal, onWarning: warnings.sink });
      parts.push(`prune freed ${p.bytesFreed} bytes`);
      details.bytes_freed = p.bytesFreed;
    }
    return { status: r.partial ? "partial" : "success", summary: parts.join(", "), bytesAdded: s.bytes_added, ...(r.snapshot ? { snapshot: r.snapshot.id } : {}), details };
  });
}

async function forgetJob(repo: Repository, j: ForgetJob, ctx: AttemptContext): Promise<JobOutcome> {
  const warnings = warningLog(ctx);
  const f = await forget(repo, { policy: j.policy.policy, ...(j.source !== undefined ? { filter: { source: j.source } } : {}), signal: ctx.signal, onWarning: warnings.sink });
  const parts = [`${f.removed.length} snapshots forgotten, ${f.kept.length} kept (${j.policy.name})`];
  const details: Record<string, unknown> = { forgotten: f.removed.length, kept: f.kept.length };
  if (j.prune) {
    const p = await prune(repo, { signal: ctx.signal, onWarning: warnings.sink });
    parts.push(`prune freed ${p.bytesFreed} bytes`);
    details.bytes_freed = p.bytesFreed;
  }
  warnings.flush();
  return { status: "success", summary: parts.join(", "), details };
}

async function pruneJob(repo: Repository, j: PruneJob, ctx: AttemptContext): Promise<JobOutcome> {
  const warnings = warningLog(ctx);
  const p = await prune(repo, { ...(j.maxUnused !== undefined ? { maxUnused: j.maxUnused } : {}), signal: ctx.signal, onWarning: warnings.sink });
  warnings.flush();
  const summary = p.nothingToDo ? "nothing to prune" : `${p.removedPacks.length} packs removed, ${p.repackedPacks.length} repacked, ${p.bytesFreed} bytes freed`;
  return { status: "success", summary, details: { bytes_freed: p.bytesFreed, packs_removed: p.removedPacks.length, packs_repacked: p.repackedPacks.length } };
}

async function checkJob(repo: Repository, j: CheckJob, ctx: AttemptContext): Promise<JobOutcome> {
  const warnings = warningLog(ctx);
  const r = await check(repo, { readData: j.readData, ...(j.readDataSubset !== undefined ? { readDataSubset: j.readDataSubset } : {}), signal: ctx.signal, onWarning: warnings.sink });
  warnings.flush();
  const details = { ok: r.ok, errors: r.errors.length, warnings: r.warnings.length, packs_read: r.packsRead, bytes_read: r.bytesRead, damaged_snapshots: r.damagedSnapshots.length };
  if (!r.ok) {
    const first = r.errors[0];
    throw new CofferError(
      "CORRUPT",
      `The check of repository ${j.repository} found ${r.errors.length} problem${r.errors.length === 1 ? "" : "s"}${first ? ` (first: ${first.kind} ${first.id.slice(0, 12)}: ${first.message})` : ""}, affecting ${r.damagedSnapshots.length} snapshots; run "coffer -r ${j.repository} check --read-data" to see them all, then "coffer -r ${j.repository} repair index" if the index is damaged.`,
      details,
    );
  }
  const what = j.readData ? "all data read" : j.readDataSubset !== undefined ? `data subset ${j.readDataSubset} read (${r.packsRead} packs)` : "structure checked";
  return { status: "success", summary: `no problems, ${what}${r.warnings.length > 0 ? `, ${r.warnings.length} warnings` : ""}`, details };
}

async function copyJob(j: CopyJob, opts: JobKindsOptions, ctx: AttemptContext): Promise<JobOutcome> {
  return withRepository(j.repository, opts, ctx, async (from) => {
    let copied = 0;
    let bytesAdded = 0;
    const warnings = warningLog(ctx);
    for (const target of j.to) {
      await withRepository(target, opts, ctx, async (to) => {
        const r = await copy(from, to, { ...(j.source !== undefined ? { filter: { source: j.source } } : {}), signal: ctx.signal, onWarning: warnings.sink });
        copied += r.copied.length;
        bytesAdded += r.bytesAdded;
        ctx.log(`copied ${r.copied.length} snapshots to ${target} (${r.skipped} already there), ${r.bytesAdded} bytes added`);
      });
    }
    warnings.flush();
    return { status: "success", summary: `${copied} snapshots copied to ${j.to.join(", ")}`, bytesAdded, details: { copied } };
  });
}

/** The configuration's jobs as the scheduler sees them. */
export function daemonJobs(config: CofferConfig): DaemonJob[] {
  return Object.values(config.jobs).map((j) => ({
    name: j.name,
    what: j.what,
    enabled: j.enabled,
    schedule: j.schedule,
    retries: j.retries,
    retryDelayMs: j.retryDelayMs,
    ...(j.timeoutMs !== undefined ? { timeoutMs: j.timeoutMs } : {}),
    repositories: jobRepositories(j),
  }));
}
