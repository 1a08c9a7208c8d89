import { CofferError } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import { backup, type BackupOptions, type BackupResult } from "../snapshot/archiver.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { findSnapshot, listSnapshots, type SnapshotFilter } from "../snapshot/snapshot-store.js";
import { rewriteSnapshot } from "./rewrite-snapshot.js";

/**
 * Revisions: approved checkpoints to roll back to. A revision is a snapshot of kind
 * `revision`, its name in `label` (unique among revisions), tag `revision`, retention
 * `permanent`; `forget` never removes one unless told to.
 */
export const REVISION_TAG = "revision";

export interface SaveRevisionOptions extends Omit<BackupOptions, "kind" | "label" | "retention" | "change" | "dryRun"> {
  name: string;
  /** Replace a revision of the same name: it becomes an ordinary snapshot (kind `manual`, no override). */
  replace?: boolean;
}

export interface SaveRevisionResult extends BackupResult {
  snapshot: SnapshotWithId;
  /** Revisions of the same name that were demoted (`replace`), with their new ids. */
  replaced: SnapshotWithId[];
}

export async function saveRevision(repo: Repository, opts: SaveRevisionOptions): Promise<SaveRevisionResult> {
  const { name, replace, ...rest } = opts;
  checkRevisionName(name);
  const same = (await listRevisions(repo)).filter((r) => r.label === name);
  const first = same[0];
  if (first && !replace) {
    throw new CofferError("INVALID", `A revision named "${name}" exists already (${first.id.slice(0, 8)}, ${first.time}); choose another name, or replace it with --replace.`, { name, id: first.id });
  }
  const r = await backup(repo, {
    ...rest,
    kind: "revision",
    label: name,
    retention: "permanent",
    tags: [...new Set([...(rest.tags ?? []), REVISION_TAG])],
  });
  const snapshot = r.snapshot as SnapshotWithId;
  // After the new one is saved: a crash in between leaves two revisions of the name, never none.
  const replaced: SnapshotWithId[] = [];
  for (const old of same) {
    const w = await rewriteSnapshot(repo, old.id, (s) => {
      const out = { ...s, kind: "manual" as const, tags: s.tags.filter((t) => t !== REVISION_TAG), description: [s.description, `replaced by revision ${snapshot.id.slice(0, 8)}`].filter(Boolean).join("; ") };
      delete out.retention;
      return out;
    });
    replaced.push(w.snapshot);
  }
  return { ...r, snapshot, replaced };
}

/** Every revision, oldest first. */
export async function listRevisions(repo: Repository, filter: SnapshotFilter = {}): Promise<SnapshotWithId[]> {
  return listSnapshots(repo, { ...filter, kinds: ["revision"] });
}

/** The revision named `name` (CofferError NOT_FOUND naming `coffer revision list` when there is none). */
export async function findRevision(repo: Repository, name: string): Promise<SnapshotWithId> {
  const found = (await listRevisions(repo)).filter((r) => r.label === name);
  if (found.length === 0) throw new CofferError("NOT_FOUND", `There is no revision named "${name}"; run "coffer revision list" to see the names.`, { name });
  if (found.length > 1) {
    throw new CofferError("AMBIGUOUS", `${found.length} revisions are named "${name}" (${found.map((r) => r.id.slice(0, 8)).join(", ")}); give the snapshot id instead.`, { name });
  }
  return found[0] as SnapshotWithId;
}

/**
 * What `coffer rollback REF` rolls back to: the revision named REF, else the snapshot whose
 * id (or unique prefix) REF is. Throws one sentence saying which was tried.
 */
export async function findRollbackTarget(repo: Repository, ref: string): Promise<SnapshotWithId> {
  const named = (await listRevisions(repo)).filter((r) => r.label === ref);
  if (named.length > 0) return findRevision(repo, ref);
  if (!/^[0-9a-f]{1,64}$/.test(ref)) throw new CofferError("NOT_FOUND", `There is no revision named "${ref}"; run "coffer revision list" to see the names, or give a snapshot id.`, { ref });
  try {
    return await findSnapshot(repo, ref);
  } catch (err) {
    if (err instanceof CofferError && err.code === "NOT_FOUND") {
      throw new CofferError("NOT_FOUND", `There is no revision named "${ref}" and no snapshot whose id starts with it; run "coffer revision list" or "coffer snapshots".`, { ref });
    }
    if (err instanceof CofferError && err.code === "AMBIGUOUS") {
      throw new CofferError("AMBIGUOUS", `The id prefix "${ref}" matches several snapshots; give more characters of the id.`, { ref });
    }
    throw err;
  }
}

function checkRevisionName(name: string): void {
  if (name.trim() === "" || name !== name.trim()) throw new CofferError("USAGE", `Give the revision a name without leading or trailing spaces, e.g. "coffer revision save v1.2".`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new CofferError("USAGE", "A revision name cannot hold control characters.");
}
