import { type BigIntStats, chmodSync, lstatSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import { filtersOf } from "../snapshot/recorded-filters.js";
import { type OverwritePolicy, type RestoreError, restore, type RestoreResult } from "../snapshot/restorer.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { lookupPath } from "../snapshot/walker.js";
import { scanCurrentState } from "./current-state.js";
import { changesFromDisk, changesFromTrees, isInside, type RollbackChange, safeDeleteFilter, sameAsNode, sameSizeAndTime } from "./rollback-changes.js";
import { clearJournal, journalFile, type RollbackJournal, readJournal, writeJournal } from "./rollback-journal.js";
import { takeSafetySnapshot } from "./safety-snapshot.js";

export type { RollbackChange, RollbackChangeKind } from "./rollback-changes.js";
export type { RollbackJournal } from "./rollback-journal.js";

export interface RollbackOptions {
  /** The revision (or any snapshot) to roll back to. */
  snapshot: SnapshotWithId;
  /** Roll back only these paths (inside the snapshot's paths); default: all of them. */
  paths?: string[];
  /** Say what would change; take no safety snapshot, write nothing. */
  dryRun?: boolean;
  /** Re-read every restored file against the snapshot (default true). */
  verify?: boolean;
  /** Where this machine notes a rollback under way (the CLI: $XDG_STATE_HOME/coffer); none: no note. */
  journalDir?: string;
  host?: string;
  workers?: number;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
  /** Called after each safety snapshot, before anything is written (tests change files here). */
  onSafetySnapshot?: (s: SnapshotWithId) => void | Promise<void>;
}

export interface RollbackResult {
  snapshot: SnapshotWithId;
  paths: string[];
  dryRun: boolean;
  /** The state before the rollback; undefined in a dry run or when none of the paths existed. */
  safety?: SnapshotWithId;
  /**
   * Files the snapshot has where the disk holds something the safety snapshot leaves out (the
   * filters exclude it): saved in this second safety snapshot, without filters, before being overwritten.
   */
  extraSafety?: SnapshotWithId;
  changes: RollbackChange[];
  /** Not in the snapshot, but left in place because they changed after the safety snapshot. */
  kept: string[];
  filesRestored: number;
  bytesRestored: number;
  deleted: number;
  verified?: { files: number; bytes: number; mismatches: number };
  errors: RestoreError[];
  warnings: Warning[];
  /** An earlier rollback of these paths that did not finish (from the journal). */
  interrupted?: RollbackJournal;
  duration_s: number;
}

const SAFETY_ATTEMPTS = 3;

/**
 * Rolls paths back to a snapshot (DESIGN "Restore, rollback, check"):
 *
 * 1. A `safety` snapshot of the current state of the same paths, with the filters the
 *    snapshot was taken with (its `filters` field), so that everything the rollback changes
 *    can be had back (`rollback SAFETY_ID`). Files that change while it is taken make it
 *    taken again; what the filters leave out but the rollback would overwrite goes into a
 *    second, unfiltered safety snapshot.
 * 2. Each path is restored onto itself ("if-changed": untouched files are not rewritten), and
 *    what the snapshot does not have is deleted, but only what the safety snapshot holds and
 *    has not changed since: files the filters exclude (`node_modules`, ignored files) and files
 *    written after the safety snapshot stay. Directories holding such files stay too.
 * 3. What was written is verified.
 *
 * Idempotent: run again after an interruption, it finishes the job (the journal says where
 * the state from before the interrupted run is).
 */
export async function rollback(repo: Repository, opts: RollbackOptions): Promise<RollbackResult> {
  const started = Date.now();
  const snapshot = opts.snapshot;
  const paths = rollbackPaths(snapshot, opts.paths);
  const warnings: Warning[] = [];
  const warn = (w: Warning): void => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  const outer = opts.progress ?? silentProgress;
  const progress: Progress = { update: (s) => outer.update(s), done: () => undefined };
  const filters = filtersOf(snapshot);
  const journal = opts.journalDir !== undefined ? journalFile(opts.journalDir, repo.config.id, paths) : undefined;
  const interrupted = journal ? readJournal(journal) : undefined;
  const result: RollbackResult = {
    snapshot,
    paths,
    dryRun: opts.dryRun === true,
    changes: [],
    kept: [],
    filesRestored: 0,
    bytesRestored: 0,
    deleted: 0,
    errors: [],
    warnings,
    ...(interrupted ? { interrupted } : {}),
    duration_s: 0,
  };
  try {
    if (repo.index.files.size === 0) await repo.loadIndex();
    if (opts.dryRun) {
      const current = await scanCurrentState(paths, filters, { onWarning: warn, ...(opts.signal ? { signal: opts.signal } : {}) });
      result.changes = await changesFromDisk(repo, current, snapshot.tree, paths);
      return result;
    }
    const name = snapshot.kind === "revision" && snapshot.label ? snapshot.label : snapshot.id.slice(0, 8);
    const common = { ...(opts.host ? { host: opts.host } : {}), ...(opts.workers ? { workers: opts.workers } : {}), progress, onWarning: warn, ...(opts.signal ? { signal: opts.signal } : {}) };
    for (let attempt = 1; ; attempt++) {
      const s = await takeSafetySnapshot(repo, { paths, filters, before: `rollback to ${name}`, ...(result.safety ? { parent: result.safety.id } : {}), ...common });
      if (s.snapshot) {
        result.safety = s.snapshot;
        await opts.onSafetySnapshot?.(s.snapshot);
      }
      result.changes = await changesFromTrees(repo, s.snapshot?.tree, snapshot.tree, paths, opts.signal);
      const stale = changedSince(result.changes);
      if (stale.length === 0) break;
      if (attempt === SAFETY_ATTEMPTS) {
        throw new CofferError("INVALID", `Files keep changing while the safety snapshot is taken (${stale[0]} and ${stale.length - 1} more); stop what writes to them and run the rollback again. Nothing was rolled back.`, { paths: stale });
      }
    }
    const overlap = outsideSafety(result.changes);
    if (overlap.length > 0) {
      const extra = await takeSafetySnapshot(repo, { paths: overlap, filters: {}, before: `rollback to ${name} (files its filters leave out)`, ...common });
      if (extra.partial) {
        throw new CofferError("PARTIAL", `${extra.unreadable.length} files the rollback would overwrite cannot be read (${extra.unreadable[0] ?? overlap[0]}), so no safety snapshot can hold them; make them readable and run the rollback again. Nothing was rolled back.`, { paths: extra.unreadable });
      }
      if (extra.snapshot) result.extraSafety = extra.snapshot;
    }
    if (journal) {
      const safety = [result.safety?.id, result.extraSafety?.id].filter((x): x is string => x !== undefined);
      writeJournal(journal, { snapshot: snapshot.id, ...(snapshot.label ? { label: snapshot.label } : {}), safety: [...(interrupted?.safety ?? []), ...safety], paths, started: interrupted?.started ?? new Date(started).toISOString() });
    }
    const deleteFilter = safeDeleteFilter(result.changes, (k) => result.kept.push(k));
    const restoreOpts = { verify: opts.verify !== false, ...common };
    for (const p of paths) {
      add(result, await restorePath(repo, snapshot, p, { ...restoreOpts, overwrite: "if-changed", deleteFilter }));
      const again = result.changes.filter((c) => isInside(c.path, p) && sameSizeAndTime(c)).map((c) => c.path);
      if (again.length > 0) add(result, await restorePath(repo, snapshot, p, { ...restoreOpts, overwrite: "always", only: again }));
    }
    for (const k of result.kept) warn({ code: "SKIPPED", message: `${k} is not in the snapshot but changed after the safety snapshot, so it was left in place`, path: k });
    if (journal && result.errors.length === 0 && (result.verified?.mismatches ?? 0) === 0) clearJournal(journal);
    return result;
  } finally {
    result.duration_s = (Date.now() - started) / 1000;
    outer.done();
  }
}

/** The paths to roll back: the snapshot's, or the given ones (each inside one of them). */
export function rollbackPaths(snapshot: SnapshotWithId, given: readonly string[] | undefined): string[] {
  if (!given || given.length === 0) return [...snapshot.paths];
  return given.map((g) => {
    const abs = resolvePath(g);
    if (!snapshot.paths.some((p) => isInside(abs, p))) {
      throw new CofferError("INVALID", `${abs} is not in snapshot ${snapshot.id.slice(0, 8)}, which holds ${snapshot.paths.join(", ")}; name a path inside those.`, { path: abs });
    }
    return abs;
  });
}

interface PathRestore {
  overwrite: OverwritePolicy;
  verify: boolean;
  deleteFilter?: (path: Buffer, st: BigIntStats) => boolean;
  /** Restore only these paths (absolute, inside the path). */
  only?: string[];
  workers?: number;
  progress: Progress;
  onWarning: WarningSink;
  signal?: AbortSignal;
}

/**
 * Restores the snapshot's `p` onto `p`: a directory as the restore root (so `delete` stays
 * inside it), anything else as the one entry selected in its parent.
 */
async function restorePath(repo: Repository, snapshot: SnapshotWithId, p: string, o: PathRestore): Promise<RestoreResult> {
  const look = await lookupPath(repo, snapshot.tree, p);
  const isDir = look.node === undefined || look.node.type === "dir";
  const root = isDir ? p : dirname(p);
  const include = o.only ? o.only.map((x) => anchored(x, root)) : isDir ? [] : [anchored(p, root)];
  const r = await restore(repo, {
    snapshot,
    target: root,
    subPath: root,
    include,
    overwrite: o.overwrite,
    verify: o.verify,
    ...(isDir && o.deleteFilter ? { delete: true, deleteFilter: o.deleteFilter } : {}),
    ...(o.workers ? { workers: o.workers } : {}),
    progress: o.progress,
    onWarning: o.onWarning,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  // The restore root's own mode is not the restorer's business; a rollback restores it too.
  if (isDir && look.node && !o.only) {
    try {
      chmodSync(p, look.node.mode & 0o7777);
    } catch (err) {
      r.errors.push({ path: p, message: `The mode of ${p} could not be set: ${(err as Error).message}`, code: "IO" });
    }
  }
  return r;
}

function add(into: RollbackResult, r: RestoreResult): void {
  into.filesRestored += r.filesRestored;
  into.bytesRestored += r.bytesRestored;
  into.deleted += r.deleted;
  into.errors.push(...r.errors);
  if (r.verified) {
    const v = (into.verified ??= { files: 0, bytes: 0, mismatches: 0 });
    v.files += r.verified.files;
    v.bytes += r.verified.bytes;
    v.mismatches += r.verified.mismatches;
  }
}

/** A restore include pattern selecting exactly `path` (below `root`). */
function anchored(path: string, root: string): string {
  const rel = root === "/" ? path : path.slice(root.length);
  return rel.split("/").map(escapeGlob).join("/");
}

function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\]{}()!+@|^$]/g, "\\$&");
}

/** Entries the safety snapshot has that differ on disk now (written to since): their changes would be lost. */
function changedSince(changes: RollbackChange[]): string[] {
  const out: string[] = [];
  for (const c of changes) {
    const b = c.before;
    if (c.change === "added" || !b || b.type === "dir") continue;
    const st = lstatOrUndefined(c.key);
    if (!st || !sameAsNode(st, b, true)) out.push(c.path);
  }
  return out;
}

/**
 * Paths the snapshot has and the disk holds too, though the safety snapshot does not (the
 * filters leave them out): the restore would overwrite them. A directory already there is
 * only a place to restore into, and a file identical by size and mtime is left alone.
 */
function outsideSafety(changes: RollbackChange[]): string[] {
  const out: string[] = [];
  for (const c of changes) {
    if (c.change !== "added" || !c.after) continue;
    if (out.some((o) => isInside(c.path, o))) continue;
    const st = lstatOrUndefined(c.key);
    if (!st) continue;
    if (c.after.type === "dir" && st.isDirectory()) continue;
    if (c.after.type === "file" && st.isFile() && sameAsNode(st, c.after)) continue;
    out.push(c.path);
  }
  return out;
}

function lstatOrUndefined(key: string): BigIntStats | undefined {
  try {
    return lstatSync(Buffer.from(key, "latin1"), { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR: a parent is not a directory, so nothing is there
  }
}

