/**
 * What a source is: the things one snapshot holds, as `coffer.yaml`'s `sources` section
 * describes them once loaded (paths absolute, defaults applied). The configuration builds
 * these; `backupSource` runs them.
 */
import type { FilterOptions } from "../snapshot/filters.js";

export interface SourceBase {
  name: string;
  description?: string;
  /** Added to every snapshot of the source. */
  tags: string[];
}

export interface FilesSource extends SourceBase {
  kind: "files";
  paths: string[];
  filters: FilterOptions;
}

export interface SqliteSource extends SourceBase {
  kind: "sqlite";
  /** Live databases, each stored (as a consistent copy) at its own path in the snapshot. */
  databases: string[];
  /** Other files and folders in the same snapshot (may contain the databases). */
  paths: string[];
  filters: FilterOptions;
  integrityCheck: "quick" | "full" | "off";
  tmpDir?: string;
}

export interface CommandSource extends SourceBase {
  kind: "command";
  /** A string runs through `sh -c`; a list runs the program directly. */
  command: string | string[];
  /** Stored at `/<filename>` in the snapshot. */
  filename: string;
  cwd: string;
  env: Record<string, string>;
  tmpDir?: string;
}

export type SourceConfig = FilesSource | SqliteSource | CommandSource;
