import { shortId } from "../../core/hex.js";
import { findRevision, listRevisions, saveRevision } from "../../ops/revision.js";
import type { SnapshotFilters } from "../../snapshot/snapshot.js";
import { defineCommand } from "../command.js";
import { formatBytes, formatDuration, formatLocalTime, renderTable } from "../format.js";
import { openRepo } from "../open-repo.js";
import { jsonWarnings, printJson, printLine } from "../output.js";
import { snapshotPaths, type SnapshotPathsFlags, snapshotPathsOptions } from "../snapshot-paths.js";

interface SaveOpts extends SnapshotPathsFlags {
  message?: string;
  replace?: boolean;
}

const saveCommand = defineCommand<SaveOpts>({
  name: "save",
  summary: "save the current state as an approved revision",
  description:
    "Back up the given paths (default: the current directory) as a revision: an approved checkpoint named NAME, kept " +
    'permanently, that "coffer rollback NAME" restores. Names are unique; --replace makes the older revision of that name ' +
    "an ordinary snapshot. The exclude options are backup's: rollback never deletes what they leave out.",
  examples: [
    'coffer revision save v1.4 -m "checkout flow done, all tests green"',
    "coffer revision save stable . --ignore-file .gitignore --exclude node_modules",
    "coffer revision save stable --replace",
    "coffer revision save nightly-ok /srv/app --json",
  ],
  arguments: [
    { name: "<name>", description: "the revision's name" },
    { name: "[paths...]", description: "files and directories (default: the current directory)" },
  ],
  options: [
    { flags: "-m, --message <text>", description: "what this revision is (its description)" },
    { flags: "--replace", description: "replace an existing revision of the same name" },
    ...snapshotPathsOptions,
  ],
  async run(ctx, [name, ...paths], opts) {
    const r = await snapshotPaths(ctx, paths, opts, (repo, common) =>
      saveRevision(repo, { ...common, name: name ?? "", ...(opts.message ? { description: opts.message } : {}), ...(opts.replace ? { replace: true } : {}) }),
    );
    const s = r.snapshot;
    if (ctx.options.json) {
      printJson(ctx, { snapshot_id: s.id, name: s.label, description: s.description ?? null, paths: s.paths, replaced: r.replaced.map((x) => x.id), partial: r.partial, summary: r.summary, warnings: jsonWarnings(ctx, r.warnings) });
    } else {
      printLine(ctx, `revision "${s.label}" saved as snapshot ${shortId(s.id)}: ${s.paths.join(" ")}`);
      printLine(ctx, `${r.summary.files_total} files, ${formatBytes(r.summary.bytes_total)}; ${formatBytes(r.summary.bytes_added)} added to the repository`);
      for (const x of r.replaced) printLine(ctx, `the previous revision "${s.label}" is now an ordinary snapshot (${shortId(x.id)})`);
      printLine(ctx, `to roll back to it:  coffer rollback ${s.label}`);
      if (r.partial) printLine(ctx, `warning: ${r.summary.files_failed} files or directories could not be read and are not in the revision`);
    }
    return r.partial ? 3 : undefined;
  },
});

const listCommand = defineCommand({
  name: "list",
  summary: "list the revisions",
  description: "List the revisions, oldest first: name, snapshot id, time, paths and description.",
  examples: ["coffer revision list", "coffer revision list --json"],
  async run(ctx) {
    const repo = await openRepo(ctx);
    try {
      const list = await listRevisions(repo);
      if (ctx.options.json) {
        printJson(ctx, list.map((s) => ({ name: s.label ?? null, id: s.id, short_id: shortId(s.id), time: s.time, hostname: s.hostname, paths: s.paths, description: s.description ?? null })));
        return;
      }
      if (list.length === 0) {
        printLine(ctx, 'no revisions yet; "coffer revision save NAME" saves one');
        return;
      }
      const rows = list.map((s) => [s.label ?? "", shortId(s.id), formatLocalTime(new Date(s.time)), s.paths.join(" "), s.description ?? ""]);
      ctx.stdout.write(renderTable([{ header: "Name" }, { header: "ID" }, { header: "Time" }, { header: "Paths" }, { header: "Description" }], rows));
      printLine(ctx, `${list.length} revision${list.length === 1 ? "" : "s"}`);
    } finally {
      await repo.close();
    }
  },
});

const showCommand = defineCommand({
  name: "show",
  summary: "show a revision's metadata and summary",
  description: "Show everything recorded about a revision: snapshot id, time, host, paths, description, tags, filters and what the backup found.",
  examples: ["coffer revision show v1.4", "coffer revision show v1.4 --json"],
  arguments: [{ name: "<name>", description: "the revision's name" }],
  async run(ctx, [name]) {
    const repo = await openRepo(ctx);
    try {
      const s = await findRevision(repo, name ?? "");
      if (ctx.options.json) {
        printJson(ctx, { name: s.label, ...s });
        return;
      }
      const line = (k: string, v: string): void => printLine(ctx, `${`${k}:`.padEnd(13)} ${v}`);
      line("revision", s.label ?? "");
      line("snapshot", s.id);
      line("time", `${formatLocalTime(new Date(s.time))} (${s.time})`);
      line("host", `${s.hostname}${s.username ? ` (user ${s.username})` : ""}`);
      line("paths", s.paths.join(" "));
      if (s.description) line("description", s.description);
      line("tags", s.tags.join(", ") || "none");
      line("retention", typeof s.retention === "object" ? JSON.stringify(s.retention) : (s.retention ?? "policy"));
      if (s.filters) line("filters", describeFilters(s.filters));
      if (s.integrity) line("verified", s.integrity.verified_at);
      const m = s.summary;
      if (m) {
        line("files", `${m.files_total} (${m.files_new} new, ${m.files_changed} changed, ${m.files_unmodified} unmodified${m.files_failed ? `, ${m.files_failed} unreadable` : ""})`);
        line("size", `${formatBytes(m.bytes_total)}, ${formatBytes(m.bytes_added)} added to the repository`);
        line("took", formatDuration(m.duration_s * 1000));
      }
      line("program", s.program);
    } finally {
      await repo.close();
    }
  },
});

function describeFilters(f: SnapshotFilters): string {
  const parts: string[] = [];
  for (const e of f.excludes ?? []) parts.push(`--exclude ${e}`);
  for (const e of f.iexcludes ?? []) parts.push(`--iexclude ${e}`);
  for (const e of f.ignore_files ?? []) parts.push(`--ignore-file ${e}`);
  if (f.exclude_caches) parts.push("--exclude-caches");
  if (f.exclude_larger_than !== undefined) parts.push(`--exclude-larger-than ${f.exclude_larger_than}`);
  if (f.one_file_system) parts.push("--one-file-system");
  return parts.join(" ");
}

export const revisionCommand = defineCommand({
  name: "revision",
  summary: "save, list and show approved revisions to roll back to",
  description: 'A revision is a named, permanent snapshot of an approved state; "coffer rollback NAME" brings it back.',
  examples: ['coffer revision save v1.4 -m "release candidate"', "coffer revision list", "coffer revision show v1.4", "coffer rollback v1.4"],
  subcommands: [saveCommand, listCommand, showCommand],
});
