import { CofferError } from "../core/errors.js";
import { isIdHex } from "../core/hex.js";
import type { Progress } from "../core/progress.js";
import { stopError } from "../repository/lock.js";
import { loadTreeNodes, type TreeBlobLoader } from "../snapshot/walker.js";
import { BlobIdSet } from "./blob-id-set.js";

/** The blobs the snapshots reach: every tree below their roots and every data blob those trees name. */
export interface UsedBlobs {
  trees: BlobIdSet;
  data: BlobIdSet;
}

export interface MarkOptions {
  /** Tree loads at once. */
  concurrency: number;
  progress?: Progress;
  signal?: AbortSignal;
}

/**
 * The mark phase of prune: walks the trees from `roots` (hex tree ids), each tree once however
 * many snapshots and directories share it, depth first so the work list stays small.
 * Any tree that does not load, or holds an invalid id, stops the walk (CofferError CORRUPT):
 * prune must not guess what a snapshot needs.
 */
export async function markUsed(repo: TreeBlobLoader, roots: readonly string[], opts: MarkOptions): Promise<UsedBlobs> {
  const used: UsedBlobs = { trees: new BlobIdSet(), data: new BlobIdSet() };
  const stack: string[] = [];
  const push = (id: string, where: string): void => {
    if (!isIdHex(id)) throw damaged(`${where} names an invalid tree id`);
    if (used.trees.add(Buffer.from(id, "hex"))) stack.push(id);
  };
  for (const r of roots) push(r, "a snapshot");
  let active = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown): void => {
      failed = true;
      reject(err);
    };
    const pump = (): void => {
      if (failed) return;
      if (opts.signal?.aborted) return fail(stopError(opts.signal, "Prune was interrupted while it read the snapshots' trees; nothing was deleted."));
      while (active < opts.concurrency && stack.length > 0) {
        const id = stack.pop() as string;
        active++;
        loadTreeNodes(repo, id).then(
          (nodes) => {
            active--;
            try {
              for (const n of nodes) {
                if (n.type === "dir" && n.subtree !== undefined) push(n.subtree, `tree ${id.slice(0, 8)}`);
                else if (n.type === "file") {
                  for (const c of n.content ?? []) {
                    if (typeof c !== "string" || !isIdHex(c)) throw damaged(`tree ${id.slice(0, 8)} names an invalid data blob id`);
                    used.data.add(Buffer.from(c, "hex"));
                  }
                }
              }
            } catch (err) {
              return fail(err);
            }
            opts.progress?.update({ phase: "prune:mark", filesDone: ++done, filesTotal: used.trees.size });
            pump();
          },
          (err: unknown) => {
            active--;
            const why = err instanceof Error ? err.message.replace(/\.$/, "") : String(err);
            // Damage is reported as such; a backend failure or an interruption passes through.
            const isDamage = !(err instanceof CofferError) || err.code === "CORRUPT" || err.code === "NOT_FOUND";
            fail(isDamage ? damaged(`tree ${id.slice(0, 8)} cannot be read (${why})`) : err);
          },
        );
      }
      if (active === 0 && stack.length === 0) resolve();
    };
    pump();
  });
  return used;
}

function damaged(what: string): CofferError {
  return new CofferError("CORRUPT", `Prune cannot tell which data the snapshots need: ${what}. Nothing was deleted; run "coffer check".`);
}
