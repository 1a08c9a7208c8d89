/**
 * The snapshot file (repository format v1): JSON, stored compressed and encrypted under
 * `snapshots/<id>`. Changing metadata writes a new file (with `original` set) and removes the old.
 */
export type SnapshotKind = "manual" | "scheduled" | "pre-change" | "revision" | "safety" | "import" | "copy";

export type RetentionOverride = "permanent" | "until-verified" | { until: string } | { days: number };

export interface ChangeInfo {
  status: "pending" | "verified" | "retired";
  ticket?: string;
  verified_by?: string;
  verified_at?: string;
}

/**
 * What the backup left out (FilterOptions, stored): recorded so that a rollback takes its
 * safety snapshot, and decides what it may delete, with the same rules. `excludes` holds the
 * patterns read from `exclude_files` too (as they were then); the files are named only for
 * the record and are not read again.
 */
export interface SnapshotFilters {
  excludes?: string[];
  exclude_files?: string[];
  iexcludes?: string[];
  ignore_files?: string[];
  exclude_caches?: boolean;
  exclude_larger_than?: number;
  one_file_system?: boolean;
}

export interface SnapshotSummary {
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  /** Files that could not be read and were left out. */
  files_failed: number;
  bytes_read: number;
  /** Plain bytes of all files in the snapshot. */
  bytes_total: number;
  /** Stored bytes of new blobs. */
  bytes_added: number;
  blobs_added: number;
  files_total: number;
  started: string;
  finished: string;
  duration_s: number;
}

export interface Snapshot {
  time: string;
  hostname: string;
  username: string;
  uid?: number;
  gid?: number;
  source?: string;
  paths: string[];
  tree: string;
  parent?: string;
  tags: string[];
  kind: SnapshotKind;
  label?: string;
  description?: string;
  retention?: RetentionOverride;
  change?: ChangeInfo;
  /** Present when the backup was given filters. */
  filters?: SnapshotFilters;
  integrity?: { verified_at: string };
  summary?: SnapshotSummary;
  /** The id the snapshot had before its metadata was first rewritten. */
  original?: string;
  /** Ids it had between `original` and now, oldest first (at most MAX_PREVIOUS_IDS): what `findSnapshot` still accepts. */
  previous?: string[];
  program: string;
}

/** A snapshot with the id of the file it was read from. */
export interface SnapshotWithId extends Snapshot {
  id: string;
}
