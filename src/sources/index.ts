/**
 * sources: what can be backed up besides files read in place. A live SQLite database is copied
 * with SQLite's online backup API (consistent while written, WAL included) and stored at its
 * own path; a command's standard output (a database dump) is streamed to a staging file and
 * stored as one file. `backupSource` runs one configured source into one snapshot.
 */
export { backupSource, checkSource, type SourceBackupOptions, type SourceBackupResult } from "./backup-source.js";
export { runCommandToFile, type CommandOutputOptions, type CommandOutputResult } from "./command-output.js";
export type { CommandSource, FilesSource, SourceBase, SourceConfig, SqliteSource } from "./source.js";
export { copySqliteDatabase, loadSqliteDriver, type SqliteCopyOptions, type SqliteCopyResult } from "./sqlite-copy.js";
