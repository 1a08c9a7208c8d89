import type { FilterOptions } from "../snapshot/filters.js";
import { collect, type OptionSpec } from "./command.js";
import { parseSize } from "./parse-size.js";

/** `backup`'s exclude options, for the other commands that take a snapshot of paths (pre-change, revision save). */
export interface BackupFilterFlags {
  exclude: string[];
  iexclude: string[];
  excludeFile: string[];
  ignoreFile: string[];
  excludeCaches?: boolean;
  excludeLargerThan?: number;
  oneFileSystem?: boolean;
}

export const backupFilterOptions: OptionSpec[] = [
  { flags: "-e, --exclude <pattern>", description: "leave out paths matching a glob pattern (repeatable)", parse: collect, default: [] },
  { flags: "--iexclude <pattern>", description: "like --exclude, ignoring case (repeatable)", parse: collect, default: [] },
  { flags: "--exclude-file <file>", description: "read exclude patterns from a file, one per line (repeatable)", parse: collect, default: [] },
  { flags: "--ignore-file <name>", description: "honour ignore files of this name in every directory, gitignore rules (e.g. .gitignore; .cofferignore always counts)", parse: collect, default: [] },
  { flags: "--exclude-caches", description: "leave out the contents of directories holding a CACHEDIR.TAG" },
  { flags: "--exclude-larger-than <size>", description: "leave out files larger than this (e.g. 500M)", parse: parseSize },
  { flags: "-x, --one-file-system", description: "do not cross into other file systems" },
];

export function filterOptionsFrom(o: BackupFilterFlags): FilterOptions {
  return {
    excludes: o.exclude,
    iexcludes: o.iexclude,
    excludeFiles: o.excludeFile,
    ignoreFiles: o.ignoreFile,
    ...(o.excludeCaches ? { excludeCaches: true } : {}),
    ...(o.excludeLargerThan !== undefined ? { excludeLargerThan: o.excludeLargerThan } : {}),
    ...(o.oneFileSystem ? { oneFileSystem: true } : {}),
  };
}
