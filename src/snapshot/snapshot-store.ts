import { CofferError } from "../core/errors.js";
import { ensureLocksHeld } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import type { Snapshot, SnapshotWithId } from "./snapshot.js";

/** Filters shared by every command that selects snapshots. */
export interface SnapshotFilter {
  hosts?: string[];
  tags?: string[];
  paths?: string[];
  kinds?: string[];
  source?: string;
}

/** The snapshots, oldest first; of the files one metadata rewrite left behind, only the newest (see `currentSnapshots`). */
export async function listSnapshots(repo: Repository, filter: SnapshotFilter = {}): Promise<SnapshotWithId[]> {
  return currentSnapshots(await loadAllSnapshots(repo))
    .current.filter((s) => matches(s, filter))
    .sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Every snapshot file, stale copies left by an interrupted metadata rewrite included (prune marks them all). */
export async function loadAllSnapshots(repo: Repository): Promise<SnapshotWithId[]> {
  const ids = await repo.listIds("snapshot");
  const all = await mapLimit(ids, repo.backend.properties.connections * 2, async (id) => {
    try {
      return { ...((await repo.loadJson("snapshot", id)) as Snapshot), id };
    } catch (err) {
      if (repo.backend.isNotFound(err)) return undefined; // removed meanwhile
      throw err;
    }
  });
  return all.filter((s): s is SnapshotWithId => s !== undefined);
}

/**
 * A metadata rewrite writes the new file before it removes the old one, so a crash can leave
 * both. Files with the same `original ?? id` are one snapshot: the current file is the newest
 * rewrite (a file with `original` set is newer than one without; among those, the latest
 * `rewritten`, then the latest `integrity.verified_at`, then the greater id); the others are
 * `stale`.
 */
export function currentSnapshots<T extends SnapshotWithId>(all: readonly T[]): { current: T[]; stale: Map<string, T[]> } {
  const groups = new Map<string, T[]>();
  for (const s of all) {
    const key = typeof s.original === "string" && s.original !== "" ? s.original : s.id;
    const g = groups.get(key);
    if (g) g.push(s);
    else groups.set(key, [s]);
  }
  const current: T[] = [];
  const stale = new Map<string, T[]>();
  for (const g of groups.values()) {
    const sorted = [...g].sort((a, b) => compareRewrites(b, a));
    const [head, ...rest] = sorted as [T, ...T[]];
    current.push(head);
    if (rest.length > 0) stale.set(head.id, rest);
  }
  return { current, stale };
}

function compareRewrites(a: SnapshotWithId, b: SnapshotWithId): number {
  const isRewrite = (s: SnapshotWithId): number => (typeof s.original === "string" && s.original !== "" ? 1 : 0);
  const time = (t: string | undefined): number => Date.parse(t ?? "") || 0;
  return (
    isRewrite(a) - isRewrite(b) ||
    time((a as { rewritten?: string }).rewritten) - time((b as { rewritten?: string }).rewritten) ||
    // A check's integrity stamp copies `rewritten` from the file it rewrites.
    time(a.integrity?.verified_at) - time(b.integrity?.verified_at) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function matches(s: Snapshot, f: SnapshotFilter): boolean {
  if (f.hosts?.length && !f.hosts.includes(s.hostname)) return false;
  if (f.tags?.length && !f.tags.some((t) => t.split(",").every((x) => s.tags.includes(x)))) return false;
  if (f.paths?.length && !f.paths.every((p) => s.paths.includes(p))) return false;
  if (f.kinds?.length && !f.kinds.includes(s.kind)) return false;
  if (f.source !== undefined && s.source !== f.source) return false;
  return true;
}

/**
 * `latest`, a full id or a unique prefix, optionally filtered (the filter only narrows `latest`).
 * A metadata rewrite (tag, annotate, a check's integrity stamp) gives a snapshot a new file id,
 * so a reference is matched against file ids first and, when none matches, against the ids
 * the current snapshots had before (`original`, `previous`): an id people saw keeps working.
 */
export async function findSnapshot(repo: Repository, ref: string, filter: SnapshotFilter = {}): Promise<SnapshotWithId> {
  if (ref === "latest") {
    const list = await listSnapshots(repo, filter);
    const last = list[list.length - 1];
    if (!last) throw new CofferError("NOT_FOUND", "There is no snapshot matching the filters; run \"coffer snapshots\" to see what there is.");
    return last;
  }
  if (!/^[0-9a-f]{1,64}$/.test(ref)) throw new CofferError("NOT_FOUND", `"${ref}" is not a snapshot id; give an id (or a prefix of one) from "coffer snapshots", or "latest".`);
  const ids = (await repo.listIds("snapshot")).filter((id) => id.startsWith(ref));
  if (ids.length > 1) throw new CofferError("AMBIGUOUS", `The prefix "${ref}" matches ${ids.length} snapshots; give more characters.`, { prefix: ref });
  if (ids.length === 1) {
    const id = ids[0] as string;
    try {
      return { ...((await repo.loadJson("snapshot", id)) as Snapshot), id };
    } catch (err) {
      if (!repo.backend.isNotFound(err)) throw err; // else rewritten meanwhile: look among the former ids
    }
  }
  const found = currentSnapshots(await loadAllSnapshots(repo)).current.filter((s) => formerIds(s).some((id) => id.startsWith(ref)));
  if (found.length > 1) throw new CofferError("AMBIGUOUS", `The prefix "${ref}" matches ${found.length} snapshots; give more characters.`, { prefix: ref });
  const s = found[0];
  if (!s) throw new CofferError("NOT_FOUND", `No snapshot has an id starting with "${ref}".`, { prefix: ref });
  return s;
}

/** How many former ids a rewritten snapshot file lists in `previous` (the oldest are dropped; `original` is always kept). */
export const MAX_PREVIOUS_IDS = 32;

/** The ids a snapshot's file had before its current one: `original`, then `previous`. */
export function formerIds(s: { original?: unknown; previous?: unknown }): string[] {
  const out = typeof s.original === "string" && s.original !== "" ? [s.original] : [];
  if (Array.isArray(s.previous)) for (const p of s.previous) if (typeof p === "string" && p !== "" && !out.includes(p)) out.push(p);
  return out;
}

/**
 * `original` and `previous` for the file that replaces the snapshot file `id` (with contents
 * `s`) in a metadata rewrite: `original` stays the first id the snapshot ever had, and `id`
 * joins `previous` unless it is that first id.
 */
export function rewriteLineage(s: { original?: unknown; previous?: unknown }, id: string): { original: string; previous?: string[] } {
  const original = typeof s.original === "string" && s.original !== "" ? s.original : id;
  const previous = formerIds(s).filter((p) => p !== original && p !== id);
  if (id !== original) previous.push(id);
  return previous.length === 0 ? { original } : { original, previous: previous.slice(-MAX_PREVIOUS_IDS) };
}

/** Saves a snapshot file; first throws LOCK_LOST if this process's lock on `repo` was removed (see Lock). */
export async function saveSnapshot(repo: Repository, s: Snapshot): Promise<string> {
  await ensureLocksHeld(repo);
  return repo.saveJson("snapshot", s);
}
