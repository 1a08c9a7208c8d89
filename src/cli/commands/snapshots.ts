import { shortId } from "../../core/hex.js";
import { listSnapshots } from "../../snapshot/snapshot-store.js";
import { defineCommand, integer } from "../command.js";
import { formatBytes, formatLocalTime, renderTable } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

export const snapshotsCommand = defineCommand<SnapshotFilterFlags & { latest?: number }>({
  name: "snapshots",
  summary: "list snapshots",
  description: "List the snapshots in the repository, oldest first, with their kind, label, tags and the size each added.",
  examples: ["coffer snapshots", "coffer snapshots --tag weekly --host web1", "coffer snapshots --latest 5 --json"],
  options: [...snapshotFilterOptions, { flags: "--latest <n>", description: "only the newest n snapshots", parse: integer }],
  async run(ctx, _args, opts) {
    const repo = await openRepo(ctx);
    try {
      let list = await listSnapshots(repo, snapshotFilterFrom(opts));
      if (opts.latest !== undefined) list = list.slice(Math.max(0, list.length - opts.latest));
      if (ctx.options.json) {
        printJson(ctx, list.map((s) => ({ ...s, short_id: shortId(s.id) })));
        return;
      }
      if (list.length === 0) {
        printLine(ctx, "no snapshots");
        return;
      }
      const rows = list.map((s) => [
        shortId(s.id),
        formatLocalTime(new Date(s.time)),
        s.hostname,
        s.kind + (s.change ? `:${s.change.status}` : ""),
        s.label ?? "",
        s.tags.join(","),
        s.summary ? formatBytes(s.summary.bytes_added) : "",
        s.paths.join(" "),
      ]);
      ctx.stdout.write(
        renderTable(
          [{ header: "ID" }, { header: "Time" }, { header: "Host" }, { header: "Kind" }, { header: "Label" }, { header: "Tags" }, { header: "Added", align: "right" }, { header: "Paths" }],
          rows,
        ),
      );
      printLine(ctx, `${list.length} snapshot${list.length === 1 ? "" : "s"}`);
    } finally {
      await repo.close();
    }
  },
});
