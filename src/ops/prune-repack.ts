import { CofferError } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { Warning } from "../core/warning.js";
import { type BlobEntry, type BlobType, decodeBlob } from "../repository/blob.js";
import { encodeHeader, PackBuilder } from "../repository/pack.js";
import { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import type { PrunePlan } from "./prune-plan.js";

export interface RepackContext {
  progress: Progress;
  warn: (w: Warning) => void;
  /** Throws when the prune was interrupted (checked before each pack). */
  throwIfAborted: () => void;
}

/**
 * Prune's step 3: copies the used blobs of the packs to repack (the ones the plan keeps from
 * them) into new packs, stored bytes as they are, each verified against its id first, and
 * saves the packs with an index file for them. The new packs and their entries go into
 * `newPacks`; returns the saver (its index files, bytes added).
 */
export async function repack(repo: Repository, plan: PrunePlan, newPacks: Map<string, BlobEntry[]>, ctx: RepackContext): Promise<PackSaver> {
  const saver = new PackSaver(repo, { checkpointPacks: Number.MAX_SAFE_INTEGER, checkpointBlobs: Number.MAX_SAFE_INTEGER });
  const builders = new Map<BlobType, PackBuilder>();
  const finish = async (b: PackBuilder): Promise<void> => {
    if (b.count === 0) return;
    const p = b.finish(repo.crypter, repo.packHash);
    newPacks.set(p.id, p.entries);
    await saver.addPack(p.id, p.bytes, encodeHeader(p.entries));
  };
  let bytesDone = 0;
  try {
    for (const pack of plan.repack) {
      ctx.throwIfAborted();
      const bytes = await repo.backend.load({ type: "data", name: pack });
      for (const e of plan.entries(pack)) {
        const k = plan.keeper(e.id, e.type);
        if (!k || k.pack !== pack || k.offset !== e.offset) continue;
        const blob = await verifiedCopy(repo, plan, e, pack, bytes, ctx.warn);
        let b = builders.get(e.type);
        if (!b) builders.set(e.type, (b = new PackBuilder()));
        b.add(e.type, e.id, blob.stored, blob.rawLength, blob.compressed);
        if (b.size >= repo.config.pack_size) await finish(b);
      }
      bytesDone += bytes.length;
      ctx.progress.update({ phase: "prune:repack", bytesDone, bytesTotal: plan.stats.repackBytes, filesDone: plan.repack.indexOf(pack) + 1, filesTotal: plan.repack.length });
    }
    for (const b of builders.values()) await finish(b);
    await saver.flush();
  } catch (err) {
    await saver.abandon();
    throw err;
  }
  return saver;
}

/**
 * The stored bytes of a blob to copy, verified against its id (opened, decompressed,
 * HMAC checked). A copy that fails is replaced by another pack's copy that verifies.
 */
async function verifiedCopy(repo: Repository, plan: PrunePlan, e: BlobEntry, pack: string, packBytes: Buffer, warn: (w: Warning) => void): Promise<{ stored: Buffer; rawLength: number; compressed: boolean }> {
  const tryCopy = (stored: Buffer, c: BlobEntry, where: string): boolean => {
    try {
      decodeBlob(stored, c, repo.crypter, repo.idKey, where);
      return true;
    } catch (err) {
      if (err instanceof CofferError && err.code !== "CORRUPT") throw err;
      warn({ code: "DAMAGED", message: `${c.type} blob ${c.id.toString("hex").slice(0, 8)} in ${where} is damaged; looking for another copy`, path: where });
      return false;
    }
  };
  if (e.offset + e.length <= packBytes.length) {
    const stored = Buffer.from(packBytes.subarray(e.offset, e.offset + e.length));
    if (tryCopy(stored, e, `pack ${pack.slice(0, 8)}`)) return { stored, rawLength: e.rawLength, compressed: e.compressed };
  }
  for (const c of plan.copies(e.id, e.type)) {
    if (c.pack === pack && c.offset === e.offset) continue;
    let stored: Buffer;
    try {
      stored = await repo.backend.load({ type: "data", name: c.pack }, { offset: c.offset, length: c.length });
    } catch (err) {
      if (err instanceof CofferError && err.code !== "CORRUPT" && err.code !== "NOT_FOUND") throw err;
      continue;
    }
    if (tryCopy(stored, c, `pack ${c.pack.slice(0, 8)}`)) return { stored, rawLength: c.rawLength, compressed: c.compressed };
  }
  throw new CofferError(
    "CORRUPT",
    `${e.type} blob ${e.id.toString("hex").slice(0, 8)}, which a snapshot needs, is damaged in pack ${pack.slice(0, 8)} and has no good copy; nothing was deleted. Run "coffer check --read-data".`,
    { blob: e.id.toString("hex"), pack },
  );
}
