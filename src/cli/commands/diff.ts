import { shortId } from "../../core/hex.js";
import { type ChangeKind, diffTrees, type TreeChange } from "../../snapshot/diff.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printInfo, printJson, printLine } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface DiffOpts extends SnapshotFilterFlags {
  metadata?: boolean;
}

/** restic's letters: + added, - removed, M content modified, T type changed, U metadata updated. */
const LETTER: Record<ChangeKind, string> = { added: "+", removed: "-", modified: "M", type: "T", metadata: "U" };

export const diffCommand = defineCommand<DiffOpts>({
  name: "diff",
  summary: "show what changed between two snapshots",
  description:
    "Compare two snapshots and list the paths that differ: \"+\" added, \"-\" removed, \"M\" content modified, \"T\" type " +
    "changed (a file became a directory, ...), and with --metadata \"U\" for paths whose mode, times or owner changed. " +
    "Directories end in \"/\". A summary of counts and of the data added and removed follows. Directories that are " +
    "identical in both snapshots are not opened, so a diff costs what changed. Each snapshot is an id, a unique prefix, " +
    "or \"latest\" (the newest matching the filter options).",
  examples: [
    "coffer diff 4f2a9c1e 7b3d0e52",
    "coffer diff 4f2a9c1e latest --metadata",
    "coffer diff 4f2a9c1e latest --json | jq '.changes[] | select(.modifier == \"M\") | .path'",
  ],
  arguments: [
    { name: "<snapshot-a>", description: "the older snapshot (id, prefix or \"latest\")" },
    { name: "<snapshot-b>", description: "the newer snapshot (id, prefix or \"latest\")" },
  ],
  options: [...snapshotFilterOptions, { flags: "--metadata", description: "also list paths whose only change is mode, mtime, owner or extended attributes" }],
  async run(ctx, args, opts) {
    const [refA, refB] = args as [string, string];
    const repo = await openRepo(ctx, { loadIndex: true });
    try {
      const filter = snapshotFilterFrom(opts);
      const a = await findSnapshot(repo, refA, filter);
      const b = await findSnapshot(repo, refB, filter);
      printInfo(ctx, `comparing snapshot ${shortId(a.id)} to ${shortId(b.id)}:`);
      const shown: TreeChange[] = [];
      const keep = (c: TreeChange): boolean => c.change !== "metadata" || opts.metadata === true;
      const result = await diffTrees(repo, a.tree, b.tree, {
        signal: ctx.signal,
        onChange: (c) => {
          if (!keep(c)) return;
          if (ctx.options.json) shown.push(c);
          else printLine(ctx, `${LETTER[c.change].padEnd(5)}${c.path}${(c.after ?? c.before)?.type === "dir" ? "/" : ""}`);
        },
      });
      const t = result.totals;
      if (ctx.options.json) {
        printJson(ctx, {
          snapshot_a: a.id,
          snapshot_b: b.id,
          changes: shown.map((c) => ({
            path: c.path,
            modifier: LETTER[c.change],
            change: c.change,
            ...(c.before ? { before: { type: c.before.type, size: c.before.size, mode: c.before.mode, mtime: c.before.mtime } } : {}),
            ...(c.after ? { after: { type: c.after.type, size: c.after.size, mode: c.after.mode, mtime: c.after.mtime } } : {}),
          })),
          totals: {
            files_added: t.filesAdded,
            files_removed: t.filesRemoved,
            files_modified: t.filesModified,
            dirs_added: t.dirsAdded,
            dirs_removed: t.dirsRemoved,
            others_added: t.othersAdded,
            others_removed: t.othersRemoved,
            others_modified: t.othersModified,
            type_changed: t.typeChanged,
            metadata_changed: t.metadataChanged,
            blobs_added: t.blobsAdded,
            blobs_removed: t.blobsRemoved,
            bytes_added: t.bytesAdded,
            bytes_removed: t.bytesRemoved,
          },
        });
        return;
      }
      printLine(ctx);
      printLine(ctx, `Files:       ${pad(t.filesAdded)} new, ${pad(t.filesRemoved)} removed, ${pad(t.filesModified)} changed`);
      printLine(ctx, `Dirs:        ${pad(t.dirsAdded)} new, ${pad(t.dirsRemoved)} removed`);
      printLine(ctx, `Others:      ${pad(t.othersAdded)} new, ${pad(t.othersRemoved)} removed, ${pad(t.othersModified)} changed`);
      if (t.typeChanged > 0) printLine(ctx, `Type changed: ${t.typeChanged}`);
      if (opts.metadata) printLine(ctx, `Metadata:    ${pad(t.metadataChanged)} changed`);
      printLine(ctx, `Data Blobs:  ${pad(t.blobsAdded)} new, ${pad(t.blobsRemoved)} removed`);
      printLine(ctx, `Added:       ${formatBytes(t.bytesAdded)}`);
      printLine(ctx, `Removed:     ${formatBytes(t.bytesRemoved)}`);
    } finally {
      await repo.close();
    }
  },
});

function pad(n: number): string {
  return String(n).padStart(5);
}
