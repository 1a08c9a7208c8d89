/**
 * What status, health and metrics say about a repository, read from it: whether it opens,
 * its stored size, snapshots per source (with the newest's time), pending pre-change
 * snapshots, the last full data check stamped on a snapshot, locks, and the ids under which
 * copies recognise its snapshots (for 3-2-1). Reading never takes a lock.
 */
import type { RepositoryConfig } from "../config/types.js";
import type { FileType } from "../backend/backend.js";
import { errorOf } from "./state.js";
import type { RepositoryFacts } from "./state.js";
import { isStale, loadLocks } from "../repository/lock.js";
import { currentSnapshots, loadAllSnapshots } from "../snapshot/snapshot-store.js";
import { openRepository, type OpenRepositoryOptions } from "./repository-access.js";

export interface PendingChange {
  id: string;
  time: string;
  source?: string;
  ticket?: string;
  label?: string;
}

export interface RepositoryReport extends RepositoryFacts {
  name: string;
  backend: RepositoryConfig["backend"];
  offsite: boolean;
  errorCode?: string;
  pending?: PendingChange[];
  /** Newest `integrity.verified_at` of any snapshot (a full data check). */
  lastVerified?: string;
  locks?: { exclusive: boolean; pid: number; host: string; time: string; stale: boolean }[];
  /** Every snapshot as `{ key, source, time }`; `key` is the id copies keep (`original ?? id`). */
  snapshotKeys?: { key: string; source: string; time: string }[];
}

const SIZE_TYPES: FileType[] = ["data", "index", "snapshot", "key", "config"];

export async function probeRepository(rc: RepositoryConfig, opts: OpenRepositoryOptions & { now?: Date }): Promise<RepositoryReport> {
  const base = { name: rc.name, backend: rc.backend, offsite: rc.offsite, checkedAt: (opts.now ?? new Date()).toISOString() };
  let repo;
  try {
    repo = await openRepository(rc, opts);
  } catch (err) {
    const e = errorOf(err);
    return { ...base, reachable: false, error: e.message, ...(e.code !== undefined ? { errorCode: e.code } : {}) };
  }
  try {
    const { current } = currentSnapshots(await loadAllSnapshots(repo));
    const bySource: Record<string, number> = {};
    const newest: Record<string, string> = {};
    const pending: PendingChange[] = [];
    let lastVerified: string | undefined;
    for (const s of current) {
      const src = s.source ?? "";
      bySource[src] = (bySource[src] ?? 0) + 1;
      if (newest[src] === undefined || s.time > newest[src]) newest[src] = s.time;
      if (s.kind === "pre-change" && s.change?.status === "pending") {
        pending.push({ id: s.id, time: s.time, ...(s.source ? { source: s.source } : {}), ...(s.change.ticket ? { ticket: s.change.ticket } : {}), ...(s.label ? { label: s.label } : {}) });
      }
      const v = s.integrity?.verified_at;
      if (v !== undefined && (lastVerified === undefined || v > lastVerified)) lastVerified = v;
    }
    let sizeBytes = 0;
    for (const t of SIZE_TYPES) for await (const f of repo.backend.list(t)) sizeBytes += f.size;
    const now = opts.now ?? new Date();
    const locks = (await loadLocks(repo)).flatMap(({ file }) => (file ? [{ exclusive: file.exclusive, pid: file.pid, host: file.hostname, time: file.time, stale: isStale(file, now) }] : []));
    return {
      ...base,
      reachable: true,
      sizeBytes,
      snapshots: current.length,
      snapshotsBySource: bySource,
      newestBySource: newest,
      pending,
      ...(lastVerified !== undefined ? { lastVerified } : {}),
      locks,
      snapshotKeys: current.map((s) => ({ key: typeof s.original === "string" && s.original !== "" ? s.original : s.id, source: s.source ?? "", time: s.time })),
    };
  } catch (err) {
    const e = errorOf(err);
    return { ...base, reachable: false, error: e.message, ...(e.code !== undefined ? { errorCode: e.code } : {}) };
  } finally {
    await repo.close().catch(() => undefined);
  }
}

/** What goes into the state file: the facts without the long lists. */
export function factsOf(r: RepositoryReport): RepositoryFacts {
  const { name: _n, backend: _b, offsite: _o, snapshotKeys: _k, locks: _l, ...facts } = r;
  return facts;
}
