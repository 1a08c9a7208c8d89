import { STATS_MODES, stats, type StatsMode } from "../../ops/stats.js";
import type { SnapshotWithId } from "../../snapshot/snapshot.js";
import { findSnapshot, listSnapshots } from "../../snapshot/snapshot-store.js";
import { defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface StatsOpts extends SnapshotFilterFlags {
  mode: StatsMode;
}

export const statsCommand = defineCommand<StatsOpts>({
  name: "stats",
  summary: "count the size of snapshots and of the repository",
  description:
    "Count the snapshots given (default: all that match the filter options) in one of three modes, as restic does: " +
    "restore-size (the files and bytes a restore would write; a hard-linked file once), files-by-contents (files with " +
    "distinct content and their bytes), raw-data (the distinct blobs the snapshots reference: plain and stored bytes, " +
    "compression ratio). Totals of the whole repository (snapshots, packs, blobs, stored bytes) follow.",
  examples: [
    "coffer stats                                  # restore size of every snapshot",
    "coffer stats latest --mode raw-data           # what the newest snapshot occupies",
    "coffer stats --host web1 --mode files-by-contents",
    "coffer stats 4f2a9c1e 7b3d0e52 --json",
  ],
  arguments: [{ name: "[snapshots...]", description: "snapshot ids, prefixes or \"latest\" (default: all matching the filters)" }],
  options: [...snapshotFilterOptions, { flags: "--mode <mode>", description: `what to count: ${STATS_MODES.join(", ")}`, choices: STATS_MODES, default: "restore-size" }],
  async run(ctx, refs, opts) {
    const repo = await openRepo(ctx, { loadIndex: true });
    const progress = ctx.progress();
    try {
      const filter = snapshotFilterFrom(opts);
      let snapshots: SnapshotWithId[];
      if (refs.length === 0) {
        snapshots = await listSnapshots(repo, filter);
      } else {
        const byId = new Map<string, SnapshotWithId>();
        for (const ref of refs) {
          const s = await findSnapshot(repo, ref, filter);
          byId.set(s.id, s);
        }
        snapshots = [...byId.values()];
      }
      const r = await stats(repo, { snapshots, mode: opts.mode, progress, signal: ctx.signal });
      progress.done();
      const repoTotals = {
        snapshots: r.repository.snapshots,
        packs: r.repository.packs,
        pack_bytes: r.repository.packBytes,
        index_files: r.repository.indexFiles,
        blobs: r.repository.blobs,
        data_blobs: r.repository.dataBlobs,
        tree_blobs: r.repository.treeBlobs,
        blob_stored_bytes: r.repository.blobStoredBytes,
        blob_raw_bytes: r.repository.blobRawBytes,
      };
      if (ctx.options.json) {
        printJson(ctx, {
          mode: r.mode,
          snapshots_count: r.snapshots.length,
          snapshots: r.snapshots,
          total_size: r.totalSize,
          total_file_count: r.files,
          ...(r.mode === "restore-size" ? { total_dir_count: r.dirs, total_other_count: r.others } : {}),
          ...(r.raw
            ? {
                total_blob_count: r.raw.blobs,
                data_blob_count: r.raw.dataBlobs,
                tree_blob_count: r.raw.treeBlobs,
                total_uncompressed_size: r.raw.rawBytes,
                total_stored_size: r.raw.storedBytes,
                compression_ratio: r.raw.compressionRatio,
                compression_space_saving: r.raw.spaceSaving,
                missing_blobs: r.raw.missing,
              }
            : {}),
          repository: repoTotals,
        });
        return;
      }
      const row = (label: string, value: string): void => printLine(ctx, `${label.padStart(24)}:  ${value}`);
      printLine(ctx, `Stats in ${r.mode} mode:`);
      row("Snapshots processed", String(r.snapshots.length));
      if (r.mode === "restore-size") {
        row("Total File Count", String(r.files));
        row("Total Dir Count", String(r.dirs));
        if (r.others > 0) row("Other Entries", String(r.others));
        row("Total Size", formatBytes(r.totalSize));
      } else if (r.mode === "files-by-contents") {
        row("Distinct File Contents", String(r.files));
        row("Total Size", formatBytes(r.totalSize));
      } else if (r.raw) {
        row("Total Blob Count", `${r.raw.blobs} (${r.raw.dataBlobs} data, ${r.raw.treeBlobs} tree)`);
        row("Total Uncompressed Size", formatBytes(r.raw.rawBytes));
        row("Total Stored Size", formatBytes(r.raw.storedBytes));
        row("Compression Ratio", `${r.raw.compressionRatio.toFixed(2)}x`);
        row("Compression Space Saving", `${r.raw.spaceSaving.toFixed(2)} %`);
        if (r.raw.missing > 0) row("Missing Blobs", `${r.raw.missing} (run "coffer check")`);
      }
      printLine(ctx, "Repository:");
      row("Snapshots", String(r.repository.snapshots));
      row("Packs", `${r.repository.packs} (${formatBytes(r.repository.packBytes)})`);
      row("Blobs", `${r.repository.blobs} (${r.repository.dataBlobs} data, ${r.repository.treeBlobs} tree)`);
      row("Blob Bytes", `${formatBytes(r.repository.blobRawBytes)} plain, ${formatBytes(r.repository.blobStoredBytes)} stored`);
    } finally {
      progress.done();
      await repo.close();
    }
  },
});
