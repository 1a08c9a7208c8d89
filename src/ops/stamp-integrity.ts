import type { Progress } from "../core/progress.js";
import { ensureLocksHeld } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import { rewriteLineage } from "../snapshot/snapshot-store.js";

/**
 * Records a full, clean data check on snapshots: `integrity.verified_at`. Snapshot files are
 * immutable, so each is rewritten: the new file (with `original` set to the first id the
 * snapshot had and the old id added to `previous`, so `findSnapshot` still accepts it) is
 * written first, the old one removed after, so a crash leaves at worst both.
 */
export async function stampIntegrity(repo: Repository, snapshots: readonly { id: string; json: Record<string, unknown> }[], verifiedAt: Date, progress?: Progress): Promise<{ id: string; newId: string }[]> {
  let done = 0;
  // A forget may have run if the check's lock was removed: stamping would bring snapshots back.
  await ensureLocksHeld(repo);
  return mapLimit(snapshots, repo.backend.properties.connections, async ({ id, json }) => {
    const newId = await repo.saveJson("snapshot", { ...json, integrity: { verified_at: verifiedAt.toISOString() }, ...rewriteLineage(json, id) });
    if (newId !== id) {
      await repo.backend.remove({ type: "snapshot", name: id }).catch((err: unknown) => {
        if (!repo.backend.isNotFound(err)) throw err;
      });
    }
    progress?.update({ phase: "check:stamp", filesDone: ++done, filesTotal: snapshots.length });
    return { id, newId };
  });
}
