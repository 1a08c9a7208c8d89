import type { BigIntStats } from "node:fs";
import type { Repository } from "../repository/repository.js";
import { filtersOf } from "../snapshot/recorded-filters.js";
import { restore, type RestoreOptions, type RestoreResult } from "../snapshot/restorer.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { scanCurrentState } from "./current-state.js";
import { changesFromTrees, isInside, safeDeleteFilter, withoutDoubleSlash } from "./rollback-changes.js";
import { takeSafetySnapshot } from "./safety-snapshot.js";

export interface RestoreInPlaceOptions extends Omit<RestoreOptions, "target" | "deleteFilter"> {
  /** Take a safety snapshot of what is about to be overwritten first (default true). */
  safetySnapshot?: boolean;
  /** Host name recorded in the safety snapshot. */
  host?: string;
}

export interface RestoreInPlaceResult {
  restore: RestoreResult;
  /** The state before the restore (undefined: not asked for, a dry run, or nothing was there). */
  safety?: SnapshotWithId;
  /** With `delete`: not in the snapshot, left in place because they changed after the safety snapshot. */
  kept: string[];
}

/**
 * Restores a snapshot (or its `subPath`) over the paths it was taken of (target "/", or the
 * sub-path itself), after a safety snapshot of their current state with the snapshot's own
 * filters. `delete` stays inside the snapshot's paths and never removes what the snapshot's
 * filters exclude (such as `node_modules`); with a safety snapshot it removes only what that
 * snapshot holds unchanged, so nothing removed is lost.
 */
export async function restoreInPlace(repo: Repository, opts: RestoreInPlaceOptions): Promise<RestoreInPlaceResult> {
  const { safetySnapshot, host, ...restoreOpts } = opts;
  const snapshot = opts.snapshot;
  const sub = opts.subPath !== undefined ? `/${opts.subPath.split("/").filter((c) => c !== "" && c !== ".").join("/")}` : undefined;
  const paths = sub !== undefined && sub !== "/" ? [sub] : snapshot.paths;
  const kept: string[] = [];
  let safety: SnapshotWithId | undefined;
  if (!opts.dryRun && safetySnapshot !== false) {
    const s = await takeSafetySnapshot(repo, {
      paths,
      filters: filtersOf(snapshot),
      before: `restore of ${snapshot.id.slice(0, 8)}`,
      ...(host ? { host } : {}),
      ...(opts.workers ? { workers: opts.workers } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    safety = s.snapshot;
  }
  let deleteFilter: ((path: Buffer, st: BigIntStats) => boolean) | undefined;
  if (opts.delete) {
    const inside = (path: Buffer): boolean => {
      const p = withoutDoubleSlash(path).toString();
      return paths.some((root) => isInside(p, root));
    };
    if (safety) {
      const safe = safeDeleteFilter(await changesFromTrees(repo, safety.tree, snapshot.tree, paths, opts.signal), (k) => kept.push(k));
      deleteFilter = (path, st) => inside(path) && safe(path, st);
    } else {
      // No safety snapshot (a dry run, or refused): what a backup with the filters would take.
      const current = await scanCurrentState(paths, filtersOf(snapshot), { ...(opts.onWarning ? { onWarning: opts.onWarning } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
      deleteFilter = (path) => inside(path) && current.has(withoutDoubleSlash(path).toString("latin1"));
    }
  }
  // With a sub-path the restorer writes that directory's contents into the target: its own place.
  const target = sub ?? "/";
  const r = await restore(repo, { ...restoreOpts, target, ...(deleteFilter ? { deleteFilter } : {}) });
  return { restore: r, ...(safety ? { safety } : {}), kept };
}
