
import { shortId } from "../../core/hex.js";
import { backupSource, checkSource, type SourceBackupResult } from "../../sources/backup-source.js";
import { backup, checkPaths, prepareBackup, type BackupResult } from "../../snapshot/archiver.js";
import { collect, defineCommand } from "../command.js";
import { configuredSource } from "../config-file.js";
import { formatBytes, formatDuration } from "../format.js";
import { openRepo } from "../open-repo.js";
import { jsonWarnings, printInfo, printJson, printLine, printVerbose, warningPrinter } from "../output.js";
import { backupFilterOptions, type BackupFilterFlags, filterOptionsFrom } from "../backup-filter-options.js";
import { parseTime } from "../parse-time.js";

interface BackupOpts extends BackupFilterFlags {
  tag: string[];
  label?: string;
  description?: string;
  dryRun?: boolean;
  host?: string;
  time?: Date;
  parent?: string;
  force?: boolean;
  workers?: number;
  source?: string;
}

export const backupCommand = defineCommand<BackupOpts>({
  name: "backup",
  summary: "back up files and directories into a new snapshot",
  description:
    "Back up the given paths into a new snapshot. Files unchanged since the parent snapshot (same host and paths) are not read " +
    "again. Files that cannot be read are reported and left out; the snapshot is still saved and the exit code is 3. " +
    "Without -r, the default local repository is used and created on first use. With --source, a source of the configuration " +
    "(coffer.yaml) is backed up instead of paths: its files, consistent copies of its SQLite databases, or its command's output.",
  examples: [
    "coffer backup ~/my-app                                  # into the default repository",
    "coffer -r /mnt/backup backup ~/my-app --tag weekly",
    "coffer backup . --ignore-file .gitignore --exclude node_modules",
    "coffer backup /srv/data --exclude-caches --exclude-larger-than 1G --one-file-system",
    "coffer backup ~/notes --dry-run --json",
    "coffer backup --source app-db                           # a source of ./coffer.yaml, into its repository",
  ],
  arguments: [{ name: "[paths...]", description: "files and directories to back up (or --source)" }],
  options: [
    ...backupFilterOptions,
    { flags: "--tag <tag>", description: "add a tag to the snapshot (repeatable)", parse: collect, default: [] },
    { flags: "--label <text>", description: "a short label for the snapshot" },
    { flags: "--description <text>", description: "a longer description" },
    { flags: "-n, --dry-run", description: "show what would be backed up; write nothing" },
    { flags: "--host <name>", description: "record this host name instead of the machine's" },
    { flags: "--time <timestamp>", description: "record this time instead of now (ISO 8601, e.g. 2026-01-31T02:00:00Z)", parse: parseTime },
    { flags: "--parent <snapshot>", description: "compare against this snapshot instead of the latest with the same host and paths" },
    { flags: "-f, --force", description: "read every file, ignoring the parent snapshot" },
    { flags: "--source <name>", description: "back up this source of the configuration (its paths, databases or command output) into one snapshot" },
    { flags: "--workers <n>", description: "worker threads for chunking, hashing and compression", parse: (v: string) => Number.parseInt(v, 10), hidden: true },
  ],
  async run(ctx, paths, opts) {
    const source = opts.source !== undefined ? await configuredSource(ctx, opts.source, paths) : undefined;
    // A missing path must not create the default repository (or anything else).
    if (source !== undefined) await checkSource(source);
    else await checkPaths(paths);
    const prepared = opts.force ? undefined : prepareBackup(source === undefined ? paths : []);
    const repo = await openRepo(ctx, { create: !opts.dryRun }).catch(async (err: unknown) => {
      await prepared?.cancel();
      throw err;
    });
    const warnings = warningPrinter(ctx);
    const progress = ctx.progress();
    try {
      const common = {
        filters: filterOptionsFrom(opts),
        tags: opts.tag.flatMap((t) => t.split(",")).filter(Boolean),
        ...(opts.label ? { label: opts.label } : {}),
        ...(opts.description ? { description: opts.description } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.time ? { time: opts.time } : {}),
        ...(opts.force ? { parent: false as const } : opts.parent ? { parent: opts.parent } : {}),
        ...(opts.workers ? { workers: opts.workers } : {}),
        progress,
        onWarning: warnings,
        signal: ctx.signal,
      };
      const r: BackupResult & { source?: string; staged?: SourceBackupResult["staged"] } =
        source !== undefined
          ? await backupSource(repo, source, {
              ...common,
              env: ctx.env,
              onStage: (e) => printInfo(ctx, e.kind === "sqlite" ? `copying the database ${e.path}` : `running the command of source ${source.name}`),
              onStderr: (text) => printVerbose(ctx, text.trimEnd()),
            })
          : await backup(repo, { ...common, paths });
      const s = r.summary;
      if (ctx.options.json) {
        printJson(ctx, {
          snapshot_id: r.snapshot?.id ?? null,
          parent: r.parent ?? null,
          ...(r.source !== undefined ? { source: r.source, staged: r.staged } : {}),
          dry_run: r.dryRun,
          partial: r.partial,
          summary: s,
          warnings: jsonWarnings(ctx, r.warnings),
        });
      } else {
        if (r.parent) printLine(ctx, `using parent snapshot ${shortId(r.parent)}`);
        printLine(ctx, `Files:  ${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified${s.files_failed ? `, ${s.files_failed} unreadable` : ""}`);
        printLine(ctx, `Dirs:   ${s.dirs_new} new, ${s.dirs_changed} changed, ${s.dirs_unmodified} unmodified`);
        if (!r.dryRun) printLine(ctx, `Added to the repository: ${formatBytes(s.bytes_added)} (${s.blobs_added} blobs)`);
        printLine(ctx, `processed ${s.files_total} files, ${formatBytes(s.bytes_total)} in ${formatDuration(s.duration_s * 1000)}`);
        if (r.snapshot) printLine(ctx, `snapshot ${shortId(r.snapshot.id)} saved`);
        else printLine(ctx, "dry run: nothing was written");
        if (r.partial) printLine(ctx, `warning: ${s.files_failed} files or directories could not be read and are not in the snapshot`);
      }
      return r.partial ? 3 : undefined;
    } finally {
      progress.done();
      await repo.close();
    }
  },
});


