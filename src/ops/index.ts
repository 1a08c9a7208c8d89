/**
 * ops: whole operations over a repository (check, repair, forget, prune, copy, rollback,
 * export/import), built on the repository and snapshot layers. Each is one function taking
 * the repository and an options object, reporting through Progress and warnings, and
 * returning a result the CLI, the daemon and tests read; none prints or exits.
 */
export * from "./check.js";
export * from "./copy.js";
export * from "./expiry.js";
export * from "./pre-change.js";
export * from "./prune.js";
export * from "./repair-index.js";
export * from "./restore-in-place.js";
export * from "./revision.js";
export * from "./rewrite-snapshot.js";
export * from "./rollback.js";
export * from "./safety-snapshot.js";
export * from "./stats.js";
export { exportSnapshot, type ExportOptions, type ExportResult } from "./export.js";
export { importArchive, type ImportOptions, type ImportResult } from "./import.js";
export { verifyArchive, type VerifyArchiveOptions, type VerifyArchiveResult } from "./verify-archive.js";
export { type ArchiveFormat, ARCHIVE_FORMATS, formatFromName, detectFormat } from "./archive-format.js";
export { type ArchiveManifest, type ManifestFile, MANIFEST_NAME, parseManifest } from "./archive-manifest.js";
export type { ArchiveProblem, ArchiveProblemKind } from "./archive-check.js";
