/**
 * Recoverable problems are warnings with a code; the operation goes on. A caller that
 * wants them fatal passes `strict` and the operation throws the first one instead.
 */
export type WarningCode =
  | "UNREADABLE" // a file or directory could not be read and was skipped
  | "CHANGED" // a file changed while it was read
  | "SKIPPED" // an entry was left out (unsupported type, vanished)
  | "SQLITE_WAL" // a live SQLite database copied as plain files
  | "STALE_LOCK" // a stale lock was removed
  | "LOCK_LOST" // this process's lock was removed by someone else; the operation will stop
  | "DAMAGED" // a damaged object was found (check)
  | "UNSAFE_PATH"; // a path that would escape a target was refused

export interface Warning {
  code: WarningCode;
  message: string;
  path?: string;
}

export type WarningSink = (w: Warning) => void;
