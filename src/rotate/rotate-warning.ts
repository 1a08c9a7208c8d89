import type { WarningCode } from "../core/warning.js";

/**
 * Warnings of the rotation layer: core's codes plus the ones only rotation has. Rotation never
 * stops for one file's trouble; each problem becomes one of these and the run goes on.
 */
export type RotateWarningCode =
  | WarningCode
  | "STATE_CORRUPT" // the state file could not be read; rebuilt from the files on disk
  | "CLOCK_BACKWARDS" // a recorded rotation lies in the future
  | "UNSUPPORTED_DIRECTIVE" // a logrotate directive coffer does not apply
  | "NO_SPACE" // the disk filled up; the uncompressed or live file was left as it was
  | "MISSING" // a log file named by a rule does not exist (and missing-ok is off)
  | "COLLISION" // a target name existed; nothing was overwritten
  | "FAILED"; // an action failed (read-only directory, permission, script exit status)

export interface RotateWarning {
  code: RotateWarningCode;
  message: string;
  path?: string;
}

export type RotateWarningSink = (w: RotateWarning) => void;
