/**
 * coffer's public library API: re-exports only. The CLI and the daemon call these same
 * functions. Every operation takes one options object; the repository, clock and progress
 * reporter are passed in.
 */
export { CofferError, isCofferError, type ErrorCode } from "./core/errors.js";
export type { Warning, WarningCode, WarningSink } from "./core/warning.js";
export type { Progress, ProgressState } from "./core/progress.js";
export type { Clock } from "./core/clock.js";
export { VERSION, PROGRAM } from "./core/version.js";

export type { Backend, BackendProperties, FileType, Handle, FileInfo, LoadOptions } from "./backend/backend.js";
export { LocalBackend } from "./backend/local.js";
export { MemoryBackend } from "./backend/memory.js";
export { openBackend, wrapBackend } from "./backend/open.js";
export { DelegatingBackend } from "./backend/delegating-backend.js";

export { Repository, type InitOptions, type OpenOptions } from "./repository/repository.js";
export type { RepoConfig } from "./repository/config.js";
export { defaultCacheRoot, LocalCache, type LocalCacheOptions, type CacheCounters } from "./repository/local-cache.js";
export { listCaches, removeOldCaches, type CacheDir } from "./repository/cache-dirs.js";
export { Lock, removeLocks } from "./repository/lock.js";
export type { KdfParams } from "./crypto/kdf.js";

export { backup, type BackupOptions, type BackupResult } from "./snapshot/archiver.js";
export { listSnapshots, findSnapshot, saveSnapshot, type SnapshotFilter } from "./snapshot/snapshot-store.js";
export type { Snapshot, SnapshotWithId, SnapshotKind, SnapshotSummary, SnapshotFilters, RetentionOverride, ChangeInfo } from "./snapshot/snapshot.js";
export type { Tree, TreeNode, NodeType } from "./snapshot/tree.js";
export type { FilterOptions } from "./snapshot/filters.js";

export { check, type CheckOptions, type CheckResult, type CheckProblem } from "./ops/check.js";
export { repairIndex } from "./ops/repair-index.js";
export { copy, type CopyOptions, type CopyResult, type CopiedSnapshot } from "./ops/copy.js";
export { stats } from "./ops/stats.js";
export { listKeys, removeKey, changePassword } from "./repository/keys.js";
export { walkTree, lookupPath, type WalkEntry } from "./snapshot/walker.js";
export { diffTrees, type TreeChange, type DiffTotals } from "./snapshot/diff.js";
export { dump, dumpTar } from "./snapshot/dump.js";
export { TarWriter, streamSink, type TarEntry } from "./snapshot/tar-writer.js";
export { forget, snapshotProtections } from "./ops/forget.js";
export { prune, type PruneOptions, type PruneResult, type MaxUnused } from "./ops/prune.js";
export { rewriteSnapshot, rewriteSnapshots, changeTags, annotate, parseRetentionOverride, type SnapshotChange, type RewriteResult, type TagChange, type Annotation } from "./ops/rewrite-snapshot.js";
export { projectExpiry, type Expiry, type ExpiryOptions } from "./ops/expiry.js";
export { currentSnapshots, loadAllSnapshots } from "./snapshot/snapshot-store.js";
export { applyPolicy, parseDuration, checkPolicy, type Policy, type RetentionItem, type Decision, type PolicyResult } from "./retention/index.js";
export { restore, type RestoreOptions, type RestoreResult } from "./snapshot/restorer.js";
export { preChange, verifyChange, retireChange, type PreChangeOptions, type VerifyChangeOptions } from "./ops/pre-change.js";
export { saveRevision, listRevisions, findRevision, findRollbackTarget, REVISION_TAG, type SaveRevisionOptions, type SaveRevisionResult } from "./ops/revision.js";
export { rollback, rollbackPaths, type RollbackOptions, type RollbackResult, type RollbackChange, type RollbackChangeKind, type RollbackJournal } from "./ops/rollback.js";
export { restoreInPlace, type RestoreInPlaceOptions, type RestoreInPlaceResult } from "./ops/restore-in-place.js";
export { takeSafetySnapshot, SAFETY_RETENTION, type SafetySnapshotOptions, type SafetySnapshotResult } from "./ops/safety-snapshot.js";
export { filtersOf, recordFilters } from "./snapshot/recorded-filters.js";
export { writeVersioned, saveVersion, makeBak, restoreBak, listBaks, cleanBaks, installBakHook, type WriteVersionedOptions, type WriteVersionedResult, type MakeBakOptions, type CleanBaksOptions } from "./rotate/index.js";
export { archiveRecords, pruneArchives, appendRecords, lockRecords, type ArchiveRecordsOptions, type ArchiveRecordsResult, type PruneArchivesOptions, type PruneArchivesResult } from "./records/index.js";
export { exportSnapshot, type ExportOptions, type ExportResult } from "./ops/export.js";
export { importArchive, type ImportOptions, type ImportResult } from "./ops/import.js";
export { verifyArchive, type VerifyArchiveOptions, type VerifyArchiveResult } from "./ops/verify-archive.js";
export type { ArchiveFormat } from "./ops/archive-format.js";
export type { ArchiveManifest, ManifestFile } from "./ops/archive-manifest.js";
export type { ArchiveProblem, ArchiveProblemKind } from "./ops/archive-check.js";
export { ZipWriter, type ZipEntry } from "./snapshot/zip-writer.js";
export { ZipReader, type ZipReadEntry } from "./snapshot/zip-reader.js";
export { readTar, type TarReadEntry } from "./snapshot/tar-reader.js";
export {
  loadConfig,
  loadConfigSync,
  parseConfig,
  checkConfigText,
  findConfigFile,
  configSearchPath,
  configJsonSchema,
  configIssues,
  formatIssue,
  maskedConfig,
  resolvePasswordSource,
  describePasswordSource,
  starterConfig,
  type CofferConfig,
  type ConfigIssue,
  type RepositoryConfig,
  type PasswordSource,
  type PolicyConfig,
  type JobConfig,
  type JobKind,
  type Schedule,
  type RecordsConfig,
  type NotifyConfig,
  type HealthConfig,
} from "./config/index.js";
export { backupSource, checkSource, copySqliteDatabase, runCommandToFile, type SourceConfig, type SourceBackupOptions, type SourceBackupResult } from "./sources/index.js";
export { nextRun, expectedInterval, Scheduler, runDaemon, evaluateHealth, gatherFacts, buildStatus, renderMetrics, createNotifier, createJobExecutor, daemonJobs, FileStateStore, MemoryStateStore, systemTimerClock, type DaemonJob, type JobExecutor, type JobOutcome, type ScheduleSpec, type RunHistory, type TimerClock, type DaemonState, type JobEvent, type HealthReport, type HealthCheck, type DaemonOptions, type StatusDocument } from "./daemon/index.js";
