import { CofferError } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import type { Repository } from "../repository/repository.js";
import type { RetentionOverride, Snapshot, SnapshotWithId } from "../snapshot/snapshot.js";
import { findSnapshot, rewriteLineage, type SnapshotFilter } from "../snapshot/snapshot-store.js";

/**
 * Metadata rewrites (tags, label, description, retention override, change status): snapshot
 * files are immutable, so a change writes a new file and then removes the old one (format
 * §14 rule 5: write first). The new file carries `original`, the first id the snapshot ever
 * had, `previous`, the ids between (so that ids people saw still find it: `findSnapshot`), and
 * `rewritten`, the time of this rewrite, so that readers can tell which of two files
 * an interrupted rewrite left is the newer (`currentSnapshots`). Fields this build does not
 * know are carried over untouched.
 */

/** A snapshot file as rewritten: the format's fields plus `rewritten`. */
export type RewrittenSnapshot = Snapshot & { rewritten?: string };

/** Returns the new metadata (a changed copy), or undefined to leave the snapshot as it is. */
export type SnapshotChange = (s: RewrittenSnapshot) => RewrittenSnapshot | undefined;

export interface RewriteOptions {
  /** Restricts what `latest` means. */
  filter?: SnapshotFilter;
  /** The time recorded in `rewritten` (default the repository's clock). */
  now?: Date;
  onWarning?: WarningSink;
  /** How long to wait for a conflicting lock (ms; default 0: fail with LOCKED at once). */
  lockWaitMs?: number;
  /** The caller already holds a lock on the repository (shared or exclusive): take none. */
  locked?: boolean;
}

export interface RewriteResult {
  /** The id the snapshot had. */
  id: string;
  /** Its id now (the same when nothing changed). */
  newId: string;
  changed: boolean;
  snapshot: SnapshotWithId;
}

/** Rewrites one snapshot (an id, a unique prefix or `latest`). */
export async function rewriteSnapshot(repo: Repository, ref: string, change: SnapshotChange, opts: RewriteOptions = {}): Promise<RewriteResult> {
  const [r] = await rewriteSnapshots(repo, [ref], change, opts);
  return r as RewriteResult;
}

/**
 * Rewrites several snapshots under one shared lock (it keeps a prune, which holds an exclusive
 * one, from reading the snapshots while a file is replaced). All references are resolved before
 * anything is written, so an unknown id changes nothing.
 */
export async function rewriteSnapshots(repo: Repository, refs: readonly string[], change: SnapshotChange, opts: RewriteOptions = {}): Promise<RewriteResult[]> {
  const lock = opts.locked ? undefined : await Lock.acquire(repo, { exclusive: false, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}), ...(opts.lockWaitMs !== undefined ? { waitMs: opts.lockWaitMs } : {}) });
  try {
    const chosen = new Map<string, SnapshotWithId>();
    for (const ref of refs) {
      const s = await findSnapshot(repo, ref, opts.filter ?? {});
      chosen.set(s.id, s);
    }
    const out: RewriteResult[] = [];
    for (const s of chosen.values()) {
      const { id, ...json } = s;
      const next = change(structuredClone(json) as RewrittenSnapshot);
      if (next === undefined || sameJson(next, json)) {
        out.push({ id, newId: id, changed: false, snapshot: s });
        continue;
      }
      const written: RewrittenSnapshot = { ...next, ...rewriteLineage(json, id), rewritten: (opts.now ?? repo.clock()).toISOString() };
      delete (written as Partial<SnapshotWithId>).id;
      const newId = await repo.saveJson("snapshot", written);
      if (newId !== id) {
        try {
          await repo.backend.remove({ type: "snapshot", name: id });
        } catch (err) {
          if (!repo.backend.isNotFound(err)) throw err;
        }
      }
      out.push({ id, newId, changed: true, snapshot: { ...written, id: newId } });
    }
    return out;
  } finally {
    await lock?.release();
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/** restic's `tag` semantics: `set` replaces the tags (an empty list clears them), then `add`, then `remove`. */
export interface TagChange {
  set?: string[];
  add?: string[];
  remove?: string[];
}

export function changeTags(change: TagChange): SnapshotChange {
  const split = (l: readonly string[] | undefined): string[] => (l ?? []).flatMap((t) => t.split(",")).map((t) => t.trim()).filter((t) => t !== "");
  const set = change.set !== undefined ? split(change.set) : undefined;
  const add = split(change.add);
  const remove = new Set(split(change.remove));
  if (set === undefined && add.length === 0 && remove.size === 0) {
    throw new CofferError("USAGE", "Say what to change: --add, --remove or --set (an empty --set \"\" clears the tags).");
  }
  return (s) => {
    let tags = set ?? [...(s.tags ?? [])];
    for (const t of add) if (!tags.includes(t)) tags.push(t);
    tags = tags.filter((t) => !remove.has(t));
    tags = [...new Set(tags)];
    return { ...s, tags };
  };
}

export interface Annotation {
  /** A label; "" removes it. */
  label?: string;
  /** A description; "" removes it. */
  description?: string;
  /** A retention override; null removes it. */
  retention?: RetentionOverride | null;
}

export function annotate(a: Annotation): SnapshotChange {
  if (a.label === undefined && a.description === undefined && a.retention === undefined) {
    throw new CofferError("USAGE", "Say what to change: --label, --description or --keep.");
  }
  return (s) => {
    const out: RewrittenSnapshot = { ...s };
    if (a.label !== undefined) {
      if (a.label === "") delete out.label;
      else out.label = a.label;
    }
    if (a.description !== undefined) {
      if (a.description === "") delete out.description;
      else out.description = a.description;
    }
    if (a.retention === null) delete out.retention;
    else if (a.retention !== undefined) out.retention = a.retention;
    return out;
  };
}

/**
 * A retention override as people write it: `permanent`, `until-verified`, `until:DATE`
 * (`2027-01-31`, to the end of that day in the policy's zone, or an RFC 3339 time), `days:N`
 * (from the snapshot's time), or `none` (null: remove the override). Throws INVALID.
 */
export function parseRetentionOverride(text: string): RetentionOverride | null {
  const t = text.trim();
  if (t === "none") return null;
  if (t === "permanent" || t === "until-verified") return t;
  const until = /^until[:=](.+)$/.exec(t);
  if (until) {
    const d = (until[1] as string).trim();
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(d);
    if (!(dateOnly ? !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) : /^\d{4}-\d{2}-\d{2}T/.test(d) && !Number.isNaN(Date.parse(d)))) {
      throw new CofferError("INVALID", `"${d}" is not a date; write until:YYYY-MM-DD or until:2027-01-31T12:00:00Z.`, { value: text });
    }
    return { until: dateOnly ? d : new Date(d).toISOString() };
  }
  const days = /^days[:=](\d+)$/.exec(t);
  if (days) return { days: Number.parseInt(days[1] as string, 10) };
  throw new CofferError("INVALID", `"${text}" is not a retention override; use permanent, until:DATE, days:N, until-verified or none.`, { value: text });
}

/** The override as `parseRetentionOverride` reads it back. */
export function formatRetentionOverride(r: RetentionOverride | undefined): string {
  if (r === undefined) return "none";
  if (typeof r === "string") return r;
  return "until" in r ? `until:${r.until}` : `days:${r.days}`;
}
