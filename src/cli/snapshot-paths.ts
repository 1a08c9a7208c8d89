import type { Repository } from "../repository/repository.js";
import type { BackupOptions } from "../snapshot/archiver.js";
import { type BackupFilterFlags, backupFilterOptions, filterOptionsFrom } from "./backup-filter-options.js";
import { collect, type OptionSpec } from "./command.js";
import type { Context } from "./context.js";
import { openRepo } from "./open-repo.js";
import { warningPrinter } from "./output.js";

/** The flags of the commands that take a snapshot of paths besides backup (pre-change, revision save). */
export interface SnapshotPathsFlags extends BackupFilterFlags {
  tag: string[];
  host?: string;
}

/** Their options: backup's excludes, --tag, --host. */
export const snapshotPathsOptions: OptionSpec[] = [
  ...backupFilterOptions,
  { flags: "--tag <tag>", description: "add a tag to the snapshot (repeatable)", parse: collect, default: [] },
  { flags: "--host <name>", description: "record this host name instead of the machine's" },
];

/** What such a command passes to its backup: the paths, the flags' filters, tags and host, progress, warnings, signal. */
export type SnapshotPathsCommon = Pick<BackupOptions, "paths" | "filters" | "tags" | "host" | "progress" | "onWarning" | "signal">;

/**
 * Opens the repository (creating the default one), runs `take` with the options every snapshot
 * of `paths` (default: the current directory) gets, then clears the progress bar and closes
 * the repository; returns what `take` returned, for the command to print.
 */
export async function snapshotPaths<T>(ctx: Context, paths: string[], flags: SnapshotPathsFlags, take: (repo: Repository, common: SnapshotPathsCommon) => Promise<T>): Promise<T> {
  const repo = await openRepo(ctx, { create: true });
  const progress = ctx.progress();
  try {
    return await take(repo, {
      paths: paths.length > 0 ? paths : [process.cwd()],
      filters: filterOptionsFrom(flags),
      tags: flags.tag.flatMap((t) => t.split(",")).filter(Boolean),
      ...(flags.host ? { host: flags.host } : {}),
      progress,
      onWarning: warningPrinter(ctx),
      signal: ctx.signal,
    });
  } finally {
    progress.done();
    await repo.close();
  }
}
