import { type BigIntStats, statSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { CofferError, type ErrorCode } from "../core/errors.js";
import { collectGarbage } from "../core/gc.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import type { Repository } from "../repository/repository.js";
import { defaultWorkerCount } from "./archive-pool.js";
import { loadNative } from "./native.js";
import { DataWriter, verifyFiles } from "./restore-data.js";
import { deleteExtra } from "./restore-delete.js";
import { RestoreFilter } from "./restore-filter.js";
import { buildPlan, emptyPlan } from "./restore-plan.js";
import { RestorePool } from "./restore-pool.js";
import { restoreLinksAndSpecials } from "./restore-specials.js";
import { TargetWriter } from "./restore-target.js";
import type { SnapshotWithId } from "./snapshot.js";

export type OverwritePolicy = "always" | "if-changed" | "if-newer" | "never";

export interface RestoreOptions {
  snapshot: SnapshotWithId;
  /** Directory to restore into; created when missing. Snapshot paths are recreated below it. */
  target: string;
  /** Glob patterns on the snapshot path (below `subPath` when given); see RestoreFilter. */
  include?: string[];
  exclude?: string[];
  /** Restore only this directory of the snapshot, its contents directly into the target. */
  subPath?: string;
  /** Re-read every restored file and check each chunk against its id. */
  verify?: boolean;
  /**
   * Remove what the target holds and the snapshot does not, within the restored (selected)
   * part and the snapshot's backed-up paths (never beside them in a parent directory).
   */
  delete?: boolean;
  /**
   * With `delete`: asked for each entry `delete` would remove (its absolute path and lstat);
   * false keeps it. A directory it allows is emptied entry by entry, each entry asked in turn,
   * and removed only when nothing is left in it (rollback keeps ignored files this way).
   */
  deleteFilter?: (path: Buffer, stat: BigIntStats) => boolean;
  /** Write nothing; `actions` lists what would be done. */
  dryRun?: boolean;
  /**
   * What to do with an entry that exists in the target: "always" (default) replaces it;
   * "if-changed" skips a file whose size and mtime match (and a symlink with the same target);
   * "if-newer" replaces only when the snapshot's mtime is newer; "never" keeps it.
   */
  overwrite?: OverwritePolicy;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
  /** Worker threads for decoding and writing (default: one per core, at most 8). */
  workers?: number;
  /** Entries planned and written per batch (default 4096; tests make it small). */
  batch?: number;
}

export type ActionKind = "create" | "overwrite" | "skip" | "delete";

export interface PlannedAction {
  /** Where, in the target. */
  path: string;
  /** What the snapshot calls it (undefined for a delete). */
  snapshotPath?: string;
  type: string;
  action: ActionKind;
}

export interface RestoreError {
  /** The path in the target, or the snapshot path for an entry that has none yet. */
  path: string;
  message: string;
  code: ErrorCode;
  /** The pack the damaged or missing data was in. */
  pack?: string;
}

export interface RestoreResult {
  snapshot: string;
  target: string;
  dryRun: boolean;
  /** Regular files written (hard links included). */
  filesRestored: number;
  /** Entries left as they were (overwrite policy). */
  filesSkipped: number;
  /** Entries removed (`delete`); a removed directory counts once (with `deleteFilter`, each entry in it too). */
  deleted: number;
  dirs: number;
  symlinks: number;
  /** Fifos and device nodes. */
  specials: number;
  /** Size of the files written. */
  bytesRestored: number;
  /** Bytes actually written (runs of zeros are left as holes). */
  bytesWritten: number;
  verified?: { files: number; bytes: number; mismatches: number };
  /** Anything that was not restored as it should have been; the CLI exits 1 when not empty. */
  errors: RestoreError[];
  warnings: Warning[];
  /** Dry run only: what would be done. */
  actions?: PlannedAction[];
  duration_s: number;
}

const POLICIES: readonly OverwritePolicy[] = ["always", "if-changed", "if-newer", "never"];

/**
 * Restores a snapshot, or part of it, into a target directory.
 *
 * Pack-centric in batches: the trees are walked into a plan of directories (made as they are
 * found) and, a batch of files at a time, for every data blob the (file, offset) places it
 * goes; the ranges of the packs a batch needs are read once each (coalesced) and their blobs
 * are opened, checked against their ids and written by worker threads with positioned writes
 * (all-zero blobs are left as holes), while the walk plans the next batch. Symlinks, hard
 * links and directory metadata come after all data; names and paths are checked so nothing
 * is written outside the target (see safe-path.ts). Damaged data is reported per file in
 * `errors` and the other files are still restored.
 */
export async function restore(repo: Repository, opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const policy = opts.overwrite ?? "always";
  if (!POLICIES.includes(policy)) throw new CofferError("USAGE", `--overwrite must be one of ${POLICIES.join(", ")}, not "${policy}".`);
  if (!opts.target) throw new CofferError("USAGE", "Name a target directory to restore into.");
  const targetPath = resolvePath(opts.target);
  const warnings: Warning[] = [];
  const warn = (w: Warning): void => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  const filter = RestoreFilter.create(opts.include, opts.exclude);
  const progress = opts.progress ?? silentProgress;
  const lock = await Lock.acquire(repo, { exclusive: false, onWarning: warn });
  let pool: RestorePool | undefined;
  try {
    // Workers start while the index and the trees are read: their start-up overlaps both.
    if (!opts.dryRun) pool = new RestorePool(repo, opts.workers ?? defaultWorkerCount());
    if (repo.index.files.size === 0) await repo.loadIndex();
    // Reading the index left its parsed files behind, promoted to the old generation: they
    // would hold about 20 MB until V8 got round to a full collection.
    if (pool) collectGarbage();
    progress.update({ phase: "plan" });
    if (opts.dryRun && !isDirOrMissing(targetPath)) throw new CofferError("INVALID", `The target ${targetPath} is not a directory.`, { target: targetPath });
    const result: RestoreResult = {
      snapshot: opts.snapshot.id,
      target: targetPath,
      dryRun: !!opts.dryRun,
      filesRestored: 0,
      filesSkipped: 0,
      deleted: 0,
      dirs: 0,
      symlinks: 0,
      specials: 0,
      bytesRestored: 0,
      bytesWritten: 0,
      errors: [],
      warnings,
      ...(opts.dryRun ? { actions: [] } : {}),
      duration_s: 0,
    };
    const plan = emptyPlan();
    const writer = new TargetWriter({
      repo,
      plan,
      filter,
      target: Buffer.from(targetPath),
      policy,
      dryRun: !!opts.dryRun,
      owners: typeof process.getuid === "function" && process.getuid() === 0,
      native: loadNative(),
      result,
      warn,
      progress,
      ...(opts.deleteFilter ? { deleteFilter: opts.deleteFilter } : {}),
    });
    const data = pool ? new DataWriter(writer, pool, { verify: !!opts.verify, ...(opts.signal ? { signal: opts.signal } : {}) }) : undefined;
    // Directories are made as the walk finds them (a plan that fails leaves them behind,
    // empty); each batch of files is written while the walk goes on.
    await buildPlan(
      repo,
      opts.snapshot.tree,
      {
        filter,
        warn,
        onDir: (i) => writer.startDir(i),
        onEntries: async (entries) => {
          checkAbort(opts.signal);
          const files = writer.prepareFiles(entries, !!opts.verify);
          await data?.add(files);
        },
        keepNames: !!opts.delete,
        ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
        ...(opts.subPath !== undefined ? { subPath: opts.subPath } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      plan,
    );
    result.errors.unshift(...plan.errors);
    writer.prepareDirs();
    await data?.finish();
    checkAbort(opts.signal);
    restoreLinksAndSpecials(writer);
    if (opts.delete) deleteExtra(writer, opts.snapshot.paths);
    writer.finishDirs();
    if (opts.verify && !opts.dryRun && data) result.verified = await verifyFiles(writer, pool as RestorePool, data.verifyJobs, opts.signal);
    result.duration_s = (Date.now() - started) / 1000;
    return result;
  } finally {
    progress.done();
    await pool?.close();
    await lock.release();
  }
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CofferError("INTERRUPTED", "The restore was interrupted; the target holds part of the snapshot.");
}

function isDirOrMissing(path: string): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return st === undefined || st.isDirectory();
}
