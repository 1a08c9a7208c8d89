import { shortId } from "../../core/hex.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { lookupPath, walkTree, type WalkEntry } from "../../snapshot/walker.js";
import { defineCommand } from "../command.js";
import { formatBytes, formatLocalTime } from "../format.js";
import { modeString, nodeJson } from "../node-format.js";
import { openRepo } from "../open-repo.js";
import { printInfo } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface LsOpts extends SnapshotFilterFlags {
  long?: boolean;
  recursive?: boolean;
  humanReadable?: boolean;
  ndjson?: boolean;
}

export const lsCommand = defineCommand<LsOpts>({
  name: "ls",
  summary: "list the files in a snapshot",
  description:
    "List what a snapshot holds, by the full paths it was backed up from. Without PATH the whole snapshot is listed; with a " +
    "directory, that directory and what is directly in it (add --recursive for everything below it); with a file, that file. " +
    "SNAPSHOT is an id, a unique prefix of one, or \"latest\" (the newest matching the filter options). " +
    "--json prints one JSON document {snapshot, path, nodes}; --ndjson prints the snapshot and then one node per line, as restic ls --json does.",
  examples: [
    "coffer ls latest                          # every path in the newest snapshot",
    "coffer ls 4f2a9c1e /srv/app -l            # one directory, long listing",
    "coffer ls latest /srv/app --recursive --host web1",
    "coffer ls latest /srv/app/config.yaml --json",
    "coffer ls latest --ndjson | jq -r 'select(.type == \"file\") | .path'",
  ],
  arguments: [
    { name: "<snapshot>", description: "snapshot id, prefix or \"latest\"" },
    { name: "[path]", description: "a directory or file in the snapshot (full path, e.g. /srv/app)" },
  ],
  options: [
    ...snapshotFilterOptions,
    { flags: "-l, --long", description: "long listing: mode, owner, size, modification time" },
    { flags: "--recursive", description: "list everything below PATH (the default without PATH)" },
    { flags: "--no-recursive", description: "list only the top level" },
    { flags: "--human-readable", description: "sizes as 1.2 MiB in the long listing" },
    { flags: "--ndjson", description: "one JSON object per line: the snapshot, then each node" },
  ],
  async run(ctx, args, opts) {
    const [ref, path] = args as [string, string | undefined];
    const repo = await openRepo(ctx, { loadIndex: true });
    try {
      const snap = await findSnapshot(repo, ref, snapshotFilterFrom(opts));
      const found = await lookupPath(repo, snap.tree, path ?? "/");
      const recursive = opts.recursive ?? path === undefined;
      const json = ctx.options.json || opts.ndjson === true;
      const snapJson = { ...snap, short_id: shortId(snap.id) };
      if (opts.ndjson) ctx.stdout.write(JSON.stringify({ struct_type: "snapshot", ...snapJson }) + "\n");
      else if (json) ctx.stdout.write(`{"snapshot":${JSON.stringify(snapJson)},"path":${JSON.stringify(found.path)},"nodes":[`);
      else printInfo(ctx, `snapshot ${shortId(snap.id)} of [${snap.paths.join(" ")}] at ${formatLocalTime(new Date(snap.time))} by ${snap.username}@${snap.hostname}${found.path === "/" ? "" : ` (${found.path})`}:`);
      let first = true;
      const print = (p: string, e: Pick<WalkEntry, "node">): void => {
        if (opts.ndjson) {
          ctx.stdout.write(JSON.stringify({ struct_type: "node", ...nodeJson(p, e.node) }) + "\n");
        } else if (json) {
          ctx.stdout.write((first ? "" : ",") + JSON.stringify(nodeJson(p, e.node)));
        } else {
          ctx.stdout.write((opts.long ? longLine(p, e.node, opts.humanReadable === true) : p) + "\n");
        }
        first = false;
      };
      if (found.node !== undefined) print(found.path, { node: found.node });
      if (found.treeId !== undefined) {
        await walkTree(repo, found.treeId, (e) => print(e.path, e), {
          prefix: found.path,
          prefixBytes: found.pathBytes,
          signal: ctx.signal,
          ...(recursive ? {} : { maxDepth: 1 }),
        });
      }
      if (json && !opts.ndjson) ctx.stdout.write("]}\n");
    } finally {
      await repo.close();
    }
  },
});

function longLine(path: string, node: WalkEntry["node"], human: boolean): string {
  const owner = (node.user ?? String(node.uid)).padEnd(8);
  const group = (node.group ?? String(node.gid)).padEnd(8);
  const size = (human ? formatBytes(node.size) : String(node.size)).padStart(human ? 10 : 12);
  const link = node.type === "symlink" ? ` -> ${node.linktarget ?? ""}` : "";
  return `${modeString(node.type, node.mode)} ${owner} ${group} ${size} ${formatLocalTime(new Date(node.mtime))} ${path}${link}`;
}
