import { readFile } from "node:fs/promises";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { type FilterOptions, patternLines } from "./filters.js";
import type { Snapshot, SnapshotFilters } from "./snapshot.js";

/**
 * The filters a backup used, as stored in its snapshot (`filters`), and back. Exclude files
 * are read once, here: their patterns join `excludes`, so the record says what was applied
 * even after the files change, and the scanner gets the same list.
 */
export async function resolveExcludeFiles(opts: FilterOptions): Promise<FilterOptions> {
  const files = opts.excludeFiles ?? [];
  if (files.length === 0) return opts;
  const excludes = [...(opts.excludes ?? [])];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (sysCode(err) === "ENOENT") throw new CofferError("INVALID", `The exclude file ${file} does not exist; check the path or remove the option.`, { file });
      throw ioError(err, `reading the exclude file ${file}`);
    }
    excludes.push(...patternLines(text));
  }
  return { ...opts, excludes, excludeFiles: [] };
}

/**
 * The record of `resolved` (exclude files already read), naming `excludeFiles` as the source
 * of some patterns; undefined when nothing is filtered (".cofferignore" always applies and is
 * not recorded).
 */
export function recordFilters(resolved: FilterOptions, excludeFiles: readonly string[] = []): SnapshotFilters | undefined {
  const out: SnapshotFilters = {};
  if (resolved.excludes?.length) out.excludes = [...resolved.excludes];
  if (excludeFiles.length) out.exclude_files = [...excludeFiles];
  if (resolved.iexcludes?.length) out.iexcludes = [...resolved.iexcludes];
  if (resolved.ignoreFiles?.length) out.ignore_files = [...resolved.ignoreFiles];
  if (resolved.excludeCaches) out.exclude_caches = true;
  if (resolved.excludeLargerThan !== undefined) out.exclude_larger_than = resolved.excludeLargerThan;
  if (resolved.oneFileSystem) out.one_file_system = true;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The filters to back up (or judge) the same paths as `s` was: none when it recorded none. */
export function filtersOf(s: Pick<Snapshot, "filters">): FilterOptions {
  const f = s.filters;
  if (!f) return {};
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const out: FilterOptions = {};
  if (strings(f.excludes).length) out.excludes = strings(f.excludes);
  if (strings(f.iexcludes).length) out.iexcludes = strings(f.iexcludes);
  if (strings(f.ignore_files).length) out.ignoreFiles = strings(f.ignore_files);
  if (f.exclude_caches === true) out.excludeCaches = true;
  if (typeof f.exclude_larger_than === "number") out.excludeLargerThan = f.exclude_larger_than;
  if (f.one_file_system === true) out.oneFileSystem = true;
  return out;
}
