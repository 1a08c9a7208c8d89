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
  | "UNSAFE_PATH" // a path that would escape a target was refused
  | "RETRY" // a backend request failed and is tried again after a wait
  // Rotation (src/rotate), which never stops for one file's trouble:
  | "STATE_CORRUPT" // the state file could not be read; rebuilt from the files on disk
  | "CLOCK_BACKWARDS" // a recorded rotation lies in the future
  | "UNSUPPORTED_DIRECTIVE" // a logrotate directive coffer does not apply
  | "NO_SPACE" // the disk filled up; the uncompressed or live file was left as it was
  | "MISSING" // a log file named by a rule does not exist (and missing-ok is off)
  | "COLLISION" // a target name existed; nothing was overwritten
  | "FAILED"; // an action failed (read-only directory, permission, script exit status)

export interface Warning {
  code: WarningCode;
  message: string;
  path?: string;
}

export type WarningSink = (w: Warning) => void;
