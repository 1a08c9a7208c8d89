import { userInfo } from "node:os";
import { CofferError } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import { backup, type BackupOptions, type BackupResult } from "../snapshot/archiver.js";
import type { ChangeInfo, SnapshotWithId } from "../snapshot/snapshot.js";
import { findSnapshot } from "../snapshot/snapshot-store.js";
import { rewriteSnapshot, type RewriteResult } from "./rewrite-snapshot.js";

/**
 * Pre-change snapshots: taken before a risky change and kept until the change is verified.
 * Kind `pre-change`, `change.status` pending, retention `until-verified`: `forget` does not
 * remove one while its change is pending (snapshotProtections). `verifyChange` and
 * `retireChange` rewrite only the `change` field (a new snapshot file, `original` set).
 */
export interface PreChangeOptions extends Omit<BackupOptions, "kind" | "retention" | "change" | "description"> {
  /** What is about to change. */
  description: string;
  /** A ticket or issue reference. */
  ticket?: string;
}

export async function preChange(repo: Repository, opts: PreChangeOptions): Promise<BackupResult> {
  const { description, ticket, ...rest } = opts;
  if (description.trim() === "") throw new CofferError("USAGE", 'Describe the change, e.g. coffer pre-change "migrate the orders table".');
  const change: ChangeInfo = { status: "pending", ...(ticket ? { ticket } : {}) };
  return backup(repo, { ...rest, kind: "pre-change", description, retention: "until-verified", change });
}

export interface VerifyChangeOptions {
  /** Who verified it (default: the user running this). */
  by?: string;
  now?: Date;
}

/** Marks a pre-change snapshot's change verified: from then on the usual policy decides. */
export async function verifyChange(repo: Repository, ref: string, opts: VerifyChangeOptions = {}): Promise<RewriteResult> {
  await pendingOrVerified(repo, ref, "verify");
  const now = opts.now ?? repo.clock();
  const by = opts.by ?? currentUser();
  return rewriteSnapshot(repo, ref, (s) => {
    if (s.change?.status === "verified") return undefined;
    return { ...s, change: { ...(s.change as ChangeInfo), status: "verified", ...(by ? { verified_by: by } : {}), verified_at: now.toISOString() } };
  }, { now });
}

/** Marks a pre-change snapshot's change retired (abandoned or no longer worth keeping). */
export async function retireChange(repo: Repository, ref: string, opts: { now?: Date } = {}): Promise<RewriteResult> {
  await pendingOrVerified(repo, ref, "retire");
  return rewriteSnapshot(repo, ref, (s) => (s.change?.status === "retired" ? undefined : { ...s, change: { ...(s.change as ChangeInfo), status: "retired" } }), opts.now ? { now: opts.now } : {});
}

async function pendingOrVerified(repo: Repository, ref: string, what: "verify" | "retire"): Promise<SnapshotWithId> {
  const s = await findSnapshot(repo, ref);
  if (s.kind !== "pre-change" || !s.change) {
    throw new CofferError("INVALID", `Snapshot ${s.id.slice(0, 8)} is a ${s.kind} snapshot, not a pre-change one; only pre-change snapshots have a change to ${what}.`, { id: s.id });
  }
  if (what === "verify" && s.change.status === "retired") {
    throw new CofferError("INVALID", `The change of snapshot ${s.id.slice(0, 8)} was retired; a retired change cannot be verified.`, { id: s.id });
  }
  return s;
}

function currentUser(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}
