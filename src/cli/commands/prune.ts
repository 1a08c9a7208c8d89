import { type MaxUnused, maxUnusedLimit, prune, type PruneOptions, type PruneResult } from "../../ops/prune.js";
import type { Repository } from "../../repository/repository.js";
import { defineCommand, InvalidArgumentError, type OptionSpec } from "../command.js";
import type { Context } from "../context.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";
import { parseSize } from "../parse-size.js";

export interface PruneFlags {
  maxUnused: MaxUnused;
  repackSmall?: boolean;
}

/** Prune's own options; `forget --prune` takes them too. */
export const pruneOptions: OptionSpec[] = [
  {
    flags: "--max-unused <limit>",
    description: "unused space allowed to stay: a share of what stays (5%), a size (100M), or 'unlimited'; packs are repacked, emptiest first, until it holds",
    default: "5%",
    parse: maxUnusedArg,
  },
  { flags: "--repack-small", description: "also merge packs smaller than 80% of the target pack size" },
];

export const pruneCommand = defineCommand<PruneFlags & { dryRun?: boolean }>({
  name: "prune",
  summary: "remove data that no snapshot needs",
  description:
    "Delete the packs no snapshot reaches, and repack packs that hold data no snapshot reaches (their used blobs are copied " +
    "into new packs, verified, then the old packs deleted) until the unused space left is within --max-unused. Also " +
    "deletes packs that interrupted backups left and no index names, if they are older than prune's lock, and (local " +
    "repositories) the temp files killed runs left, if over a day old. Prune holds an " +
    "exclusive lock: it fails with exit code 11 while a backup, check or restore is running, and they fail while it runs. " +
    "The new index is written before anything is deleted, so an interrupted prune loses nothing; run it again to finish.",
  examples: ["coffer prune", "coffer prune --dry-run                # what would be deleted and freed", "coffer prune --max-unused 0%          # repack every pack with unused data", "coffer prune --max-unused unlimited --json"],
  options: [...pruneOptions, { flags: "-n, --dry-run", description: "show what would be deleted and how much space it frees; change nothing" }],
  async run(ctx, _args, opts) {
    const repo = await openRepo(ctx);
    try {
      const r = await runPrune(ctx, repo, opts, { dryRun: opts.dryRun === true });
      if (ctx.options.json) printJson(ctx, pruneJson(r));
      else printPrune(ctx, r);
    } finally {
      await repo.close();
    }
  },
});

/** Runs prune with the command line's options and a progress bar. */
export async function runPrune(ctx: Context, repo: Repository, flags: PruneFlags, extra: Pick<PruneOptions, "dryRun" | "ignoreSnapshots">): Promise<PruneResult> {
  const progress = ctx.progress();
  try {
    return await prune(repo, { maxUnused: flags.maxUnused, repackSmall: flags.repackSmall === true, progress, onWarning: warningPrinter(ctx), signal: ctx.signal, ...extra });
  } finally {
    progress.done();
  }
}

/** The result as JSON (snake_case, raw numbers). */
export function pruneJson(r: PruneResult): Record<string, unknown> {
  const s = r.stats;
  return {
    dry_run: r.dryRun,
    nothing_to_do: r.nothingToDo,
    snapshots: r.snapshots,
    packs: s.packs,
    pack_bytes: s.packBytes,
    blobs: s.blobs,
    used_blobs: s.usedBlobs,
    used_bytes: s.usedBytes,
    unused_blobs: s.unusedBlobs,
    unused_bytes: s.unusedBytes,
    duplicate_blobs: s.duplicateBlobs,
    duplicate_bytes: s.duplicateBytes,
    kept_packs: r.keptPacks,
    removed_packs: r.removedPacks,
    repacked_packs: r.repackedPacks,
    repacked_blobs: s.repackBlobs,
    unreferenced_packs: r.unreferencedPacks,
    unreferenced_bytes: r.unreferencedBytes,
    newer_unreferenced_packs: r.newerUnreferencedPacks,
    new_packs: r.newPacks,
    bytes_added: r.bytesAdded,
    index_written: r.indexWritten,
    index_removed: r.indexRemoved,
    unused_bytes_after: s.unusedAfter,
    bytes_freed: r.bytesFreed,
    temp_files: r.tempFiles,
    temp_bytes: r.tempBytes,
  };
}

export function printPrune(ctx: Context, r: PruneResult): void {
  const s = r.stats;
  printLine(ctx, `${r.snapshots} snapshot${r.snapshots === 1 ? " reaches" : "s reach"} ${plural(s.usedBlobs, "blob")} (${formatBytes(s.usedBytes)}) in ${s.packs} packs (${formatBytes(s.packBytes)})`);
  const dup = s.duplicateBlobs > 0 ? `, of which ${s.duplicateBlobs} duplicate copies (${formatBytes(s.duplicateBytes)})` : "";
  printLine(ctx, `unused: ${plural(s.unusedBlobs, "blob")} (${formatBytes(s.unusedBytes)})${dup}`);
  const unref = r.unreferencedPacks.length > 0 ? `, ${r.unreferencedPacks.length} unreferenced (${formatBytes(r.unreferencedBytes)}) ${r.dryRun ? "to delete" : "deleted"}` : "";
  printLine(ctx, `packs: ${r.keptPacks} kept, ${r.repackedPacks.length} ${r.dryRun ? "to repack" : "repacked"} (${plural(s.repackBlobs, "blob")}), ${r.removedPacks.length} ${r.dryRun ? "to delete" : "deleted"}${unref}`);
  if (r.newerUnreferencedPacks > 0) printLine(ctx, `${r.newerUnreferencedPacks} pack${r.newerUnreferencedPacks === 1 ? "" : "s"} no index names appeared while prune started; left for the next prune`);
  if (r.tempFiles.length > 0) printLine(ctx, `${plural(r.tempFiles.length, "temp file")} left by interrupted runs, over a day old (${formatBytes(r.tempBytes)}), ${r.dryRun ? "to delete" : "deleted"}`);
  const left = s.unusedAfter > 0 ? `; ${formatBytes(s.unusedAfter)} unused stays (within --max-unused)` : "";
  if (r.nothingToDo) printLine(ctx, `nothing to delete${left}`);
  else if (r.dryRun) printLine(ctx, `would free about ${formatBytes(Math.max(0, r.bytesFreed))}${left} (dry run: nothing was changed)`);
  else printLine(ctx, `freed ${formatBytes(Math.max(0, r.bytesFreed))}${left}`);
}

function maxUnusedArg(value: string): MaxUnused {
  const v = value.trim();
  let out: MaxUnused;
  if (/%$/.test(v) || v.toLowerCase() === "unlimited") out = v;
  else out = parseSize(v);
  try {
    maxUnusedLimit(out);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
