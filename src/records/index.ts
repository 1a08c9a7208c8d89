/**
 * records: old records out of live JSON and NDJSON files. `archiveRecords` moves records older
 * than a duration into a dated archive file with metadata, crash-safe through a journal and
 * under the file's lock (`FILE.lock`, which cooperating writers take too: `lockRecords`,
 * `appendRecords`); `pruneArchives` deletes archive files past an age. The retention engine
 * makes every age decision. Files only: no repository.
 */
export { archiveRecords, type ArchiveRecordsOptions, type ArchiveRecordsResult, type ArchiveStep } from "./archive-records.js";
export { pruneArchives, type ArchiveFileItem, type PruneArchivesOptions, type PruneArchivesResult } from "./prune-archives.js";
export { appendRecords, lockRecords, type AppendRecordsOptions, type RecordsLockOptions } from "./records-lock.js";
export { ARCHIVE_VERSION, readArchive, recordHash, type ArchiveDocument, type ArchiveMetadata } from "./archive-file.js";
export { journalPath, type Journal } from "./journal.js";
export type { FormatChoice, RecordFormat } from "./record-file.js";
export type { RecordsWarning, RecordsWarningCode, RecordsWarningSink } from "./records-warning.js";
