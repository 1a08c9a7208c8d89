/**
 * Warnings of record archiving: the run goes on (or has finished) and says what it noticed.
 */
export type RecordsWarningCode =
  | "NO_TIME" // records without a readable time stay in the live file
  | "RECOVERED" // an interrupted run was finished before this one
  | "STALE_LOCK" // a lock left by a process that is gone was taken over
  | "CLOCK_BACKWARDS" // an archive is named after the time now
  | "FAILED"; // an archive file could not be deleted

export interface RecordsWarning {
  code: RecordsWarningCode;
  message: string;
  path?: string;
}

export type RecordsWarningSink = (w: RecordsWarning) => void;
