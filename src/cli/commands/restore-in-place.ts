import { shortId } from "../../core/hex.js";
import { restoreInPlace } from "../../ops/restore-in-place.js";
import type { Repository } from "../../repository/repository.js";
import { restore, type RestoreOptions, type RestoreResult } from "../../snapshot/restorer.js";
import type { SnapshotWithId } from "../../snapshot/snapshot.js";
import type { OptionSpec } from "../command.js";
import type { Context } from "../context.js";
import { printLine } from "../output.js";

/** `restore --in-place [--no-safety-snapshot]`: kept apart so restore.ts only wires them in. */
export interface InPlaceFlags {
  inPlace?: boolean;
  /** False with --no-safety-snapshot. */
  safetySnapshot: boolean;
}

export const inPlaceOptions: OptionSpec[] = [
  { flags: "--in-place", description: "restore over the paths the snapshot was taken of (target /), after a safety snapshot of them", conflicts: "target" },
  { flags: "--no-safety-snapshot", description: "with --in-place: take no safety snapshot first" },
];

export interface InPlaceOutcome {
  r: RestoreResult;
  safety?: SnapshotWithId;
  kept: string[];
}

/** `restore` into `target`, or with --in-place over the original paths after a safety snapshot. */
export async function restoreTargetOrInPlace(repo: Repository, opts: Omit<RestoreOptions, "target">, target: string | undefined, flags: InPlaceFlags): Promise<InPlaceOutcome> {
  if (!flags.inPlace) return { r: await restore(repo, { ...opts, target: target as string }), kept: [] };
  const ip = await restoreInPlace(repo, { ...opts, safetySnapshot: flags.safetySnapshot });
  return { r: ip.restore, ...(ip.safety ? { safety: ip.safety } : {}), kept: ip.kept };
}

export function printSafety(ctx: Context, o: InPlaceOutcome): void {
  for (const k of o.kept) printLine(ctx, `kept: ${k} (not in the snapshot, but changed after the safety snapshot)`);
  if (o.safety) printLine(ctx, `safety snapshot ${shortId(o.safety.id)} holds the state from before; to get it back:  coffer rollback ${shortId(o.safety.id)}`);
}
