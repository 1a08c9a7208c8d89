import { shortId } from "../../core/hex.js";
import { preChange } from "../../ops/pre-change.js";
import { defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { jsonWarnings, printJson, printLine } from "../output.js";
import { snapshotPaths, type SnapshotPathsFlags, snapshotPathsOptions } from "../snapshot-paths.js";

interface PreChangeOpts extends SnapshotPathsFlags {
  ticket?: string;
  label?: string;
}

export const preChangeCommand = defineCommand<PreChangeOpts>({
  name: "pre-change",
  summary: "snapshot before a change, kept until the change is verified",
  description:
    "Back up the given paths (default: the current directory) into a pre-change snapshot: its change is pending until " +
    '"coffer change verify" (or "change retire"), and until then forget never removes it. Roll back to it with ' +
    '"coffer rollback ID" if the change goes wrong. The exclude options are backup\'s, and rollback keeps what they leave out.',
  examples: [
    'coffer pre-change "migrate the orders table" --ticket OPS-142',
    'coffer pre-change "upgrade dependencies" . --ignore-file .gitignore --exclude node_modules',
    'coffer pre-change "new nginx config" /etc/nginx --json',
  ],
  arguments: [
    { name: "<description>", description: "what is about to change" },
    { name: "[paths...]", description: "files and directories to back up (default: the current directory)" },
  ],
  options: [
    { flags: "--ticket <id>", description: "a ticket or issue the change belongs to" },
    { flags: "--label <text>", description: "a short label for the snapshot" },
    ...snapshotPathsOptions,
  ],
  async run(ctx, [description, ...paths], opts) {
    const r = await snapshotPaths(ctx, paths, opts, (repo, common) =>
      preChange(repo, { ...common, description: description ?? "", ...(opts.ticket ? { ticket: opts.ticket } : {}), ...(opts.label ? { label: opts.label } : {}) }),
    );
    const s = r.snapshot;
    if (!s) return;
    if (ctx.options.json) {
      printJson(ctx, { snapshot_id: s.id, kind: s.kind, description: s.description, change: s.change, paths: s.paths, partial: r.partial, summary: r.summary, warnings: jsonWarnings(ctx, r.warnings) });
    } else {
      const id = shortId(s.id);
      printLine(ctx, `pre-change snapshot ${id} saved (change pending${s.change?.ticket ? `, ticket ${s.change.ticket}` : ""}): ${s.paths.join(" ")}`);
      printLine(ctx, `${r.summary.files_total} files, ${formatBytes(r.summary.bytes_total)}; ${formatBytes(r.summary.bytes_added)} added to the repository`);
      printLine(ctx, `when the change is verified:  coffer change verify ${id}`);
      printLine(ctx, `to undo the change:           coffer rollback ${id}`);
      if (r.partial) printLine(ctx, `warning: ${r.summary.files_failed} files or directories could not be read and are not in the snapshot`);
    }
    return r.partial ? 3 : undefined;
  },
});
