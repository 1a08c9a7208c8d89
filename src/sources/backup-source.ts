/**
 * One run of a configured source: one snapshot, named after the source (its parent is the
 * source's previous snapshot). Files are read where they are; each SQLite database is first
 * copied consistently into a private temporary folder and stored at its own path; a command's
 * output is staged in a file there and stored as `/<filename>`. The temporary folder is removed
 * whatever happens.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import { backup, checkPaths, type BackupOptions, type BackupResult } from "../snapshot/archiver.js";
import type { FilterOptions } from "../snapshot/filters.js";
import { runCommandToFile } from "./command-output.js";
import type { SourceConfig } from "./source.js";
import { copySqliteDatabase } from "./sqlite-copy.js";

export interface SourceBackupOptions extends Omit<BackupOptions, "paths" | "source" | "substitutes" | "filters"> {
  /** Added to the source's own filters (e.g. excludes given on the command line). */
  filters?: FilterOptions;
  /** Environment of a command source's command (its `env` is added); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where copies and command output are staged when the source names no tmp-dir; default the system's. */
  tmpDir?: string;
  /** A command source's standard error, as it comes. */
  onStderr?: (text: string) => void;
  /** Told before each database copy or command run, for progress displays and logs. */
  onStage?: (event: { kind: "sqlite" | "command"; path: string }) => void;
}

export interface SourceBackupResult extends BackupResult {
  source: string;
  /** What was staged before the backup: database copies and command output, with their sizes. */
  staged: { kind: "sqlite" | "command"; path: string; bytes: number }[];
}

/**
 * Checks that what a source reads is there (paths, databases, a command's folder) before
 * anything is created: a missing path must not create a repository.
 */
export async function checkSource(source: SourceConfig): Promise<void> {
  if (source.kind === "command") {
    try {
      if (!(await stat(source.cwd)).isDirectory()) throw new CofferError("INVALID", `The folder of source ${source.name}'s command, ${source.cwd}, is not a folder.`, { path: source.cwd });
    } catch (err) {
      if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `The folder of source ${source.name}'s command, ${source.cwd}, does not exist; nothing was backed up.`, { path: source.cwd });
      throw ioError(err, `reading ${source.cwd}`);
    }
    return;
  }
  const databases = source.kind === "sqlite" ? source.databases : [];
  for (const db of databases) {
    try {
      await stat(db);
    } catch (err) {
      if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `The database ${db} of source ${source.name} does not exist; nothing was backed up.`, { path: db });
      throw ioError(err, `reading ${db}`);
    }
  }
  if (source.paths.length > 0) await checkPaths(source.paths);
}

export async function backupSource(repo: Repository, source: SourceConfig, opts: SourceBackupOptions = {}): Promise<SourceBackupResult> {
  await checkSource(source);
  if (source.kind === "command" && opts.dryRun) {
    throw new CofferError("USAGE", `A dry run cannot show what source ${source.name} would store without running its command; run the backup without --dry-run.`);
  }
  const { filters: extra, env, tmpDir, onStderr, onStage, ...rest } = opts;
  const tags = [...new Set([...source.tags, ...(opts.tags ?? [])])];
  if (source.kind === "files") {
    const r = await backup(repo, { ...rest, tags, paths: source.paths, filters: mergeFilters(source.filters, extra), source: source.name });
    return { ...r, source: source.name, staged: [] };
  }
  const staging = await makeStagingDir(source.tmpDir ?? tmpDir ?? tmpdir(), source.name);
  try {
    const staged: SourceBackupResult["staged"] = [];
    const substitutes = new Map<string, string>();
    let paths: string[];
    let filters: FilterOptions | undefined;
    if (source.kind === "sqlite") {
      for (const [i, db] of source.databases.entries()) {
        if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The backup was interrupted; no snapshot was saved.");
        onStage?.({ kind: "sqlite", path: db });
        const copy = join(staging, `${i}-${basename(db)}`);
        const { bytes } = await copySqliteDatabase(db, copy, { integrityCheck: source.integrityCheck });
        substitutes.set(db, copy);
        staged.push({ kind: "sqlite", path: db, bytes });
      }
      // A database inside one of the paths is met by the walk; any other is a path of its own.
      paths = [...source.paths, ...source.databases.filter((db) => !source.paths.some((p) => db === p || db.startsWith(p.endsWith("/") ? p : `${p}/`)))];
      filters = mergeFilters(source.filters, extra);
    } else {
      const at = `/${source.filename}`;
      const out = join(staging, "output");
      onStage?.({ kind: "command", path: at });
      const { bytes } = await runCommandToFile(source.command, out, {
        cwd: source.cwd,
        env: { ...(env ?? process.env), ...source.env },
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(onStderr ? { onStderr } : {}),
        what: `the command of source ${source.name}`,
      });
      substitutes.set(at, out);
      staged.push({ kind: "command", path: at, bytes });
      paths = [at];
    }
    const r = await backup(repo, { ...rest, tags, paths, ...(filters ? { filters } : {}), source: source.name, substitutes });
    return { ...r, source: source.name, staged };
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A private folder (0700): database copies and dumps hold the data in clear. */
async function makeStagingDir(parent: string, name: string): Promise<string> {
  try {
    return await mkdtemp(join(parent, `coffer-${name.replace(/[^A-Za-z0-9_.-]/g, "_")}-`));
  } catch (err) {
    throw ioError(err, `creating a temporary folder in ${parent} (set tmp-dir on the source to use another)`);
  }
}

function mergeFilters(a: FilterOptions, b: FilterOptions | undefined): FilterOptions {
  if (b === undefined) return a;
  const cat = (x: string[] | undefined, y: string[] | undefined): string[] => [...(x ?? []), ...(y ?? [])];
  return {
    excludes: cat(a.excludes, b.excludes),
    iexcludes: cat(a.iexcludes, b.iexcludes),
    excludeFiles: cat(a.excludeFiles, b.excludeFiles),
    ignoreFiles: cat(a.ignoreFiles, b.ignoreFiles),
    ...(a.excludeCaches || b.excludeCaches ? { excludeCaches: true } : {}),
    ...(a.excludeLargerThan !== undefined || b.excludeLargerThan !== undefined ? { excludeLargerThan: Math.min(a.excludeLargerThan ?? Infinity, b.excludeLargerThan ?? Infinity) } : {}),
    ...(a.oneFileSystem || b.oneFileSystem ? { oneFileSystem: true } : {}),
  };
}
