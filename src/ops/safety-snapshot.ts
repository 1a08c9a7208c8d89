import { lstat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { sysCode } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import { backup } from "../snapshot/archiver.js";
import type { FilterOptions } from "../snapshot/filters.js";
import type { RetentionOverride, SnapshotWithId } from "../snapshot/snapshot.js";

/** How long a safety snapshot is protected from `forget` unless told otherwise. */
export const SAFETY_RETENTION: RetentionOverride = { days: 14 };

export interface SafetySnapshotOptions {
  /** The paths about to be overwritten; those that do not exist are left out (nothing to keep). */
  paths: string[];
  /** The same filters as the snapshot about to be restored was taken with. */
  filters?: FilterOptions;
  /** What is about to happen, for the label: "rollback to v1.2". */
  before: string;
  retention?: RetentionOverride;
  host?: string;
  /** A parent to compare against (default: the latest with the same host and paths). */
  parent?: string;
  workers?: number;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

export interface SafetySnapshotResult {
  /** Undefined when none of the paths exists. */
  snapshot?: SnapshotWithId;
  /** Paths that do not exist now. */
  missing: string[];
  /** Some files could not be read, so they are not in the snapshot. */
  partial: boolean;
  /** Paths of the entries that could not be read. */
  unreadable: string[];
  warnings: Warning[];
}

/**
 * Takes a `safety` snapshot of the current state of `paths` before something overwrites
 * them (rollback, in-place restore), so that whatever is lost can be restored. Kind `safety`,
 * tag `safety`, label "before <what>", protected from `forget` for SAFETY_RETENTION.
 */
export async function takeSafetySnapshot(repo: Repository, opts: SafetySnapshotOptions): Promise<SafetySnapshotResult> {
  const present: string[] = [];
  const missing: string[] = [];
  for (const p of opts.paths) {
    const abs = resolvePath(p);
    try {
      await lstat(abs);
      present.push(abs);
    } catch (err) {
      if (sysCode(err) !== "ENOENT" && sysCode(err) !== "ENOTDIR") throw err;
      missing.push(abs);
    }
  }
  if (present.length === 0) return { missing, partial: false, unreadable: [], warnings: [] };
  const r = await backup(repo, {
    paths: present,
    kind: "safety",
    tags: ["safety"],
    label: `before ${opts.before}`,
    retention: opts.retention ?? SAFETY_RETENTION,
    ...(opts.filters ? { filters: opts.filters } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.parent ? { parent: opts.parent } : {}),
    ...(opts.workers ? { workers: opts.workers } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const unreadable = r.warnings.filter((w) => w.code === "UNREADABLE" && w.path !== undefined).map((w) => w.path as string);
  return { ...(r.snapshot ? { snapshot: r.snapshot } : {}), missing, partial: r.partial, unreadable, warnings: r.warnings };
}
