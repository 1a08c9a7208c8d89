/**
 * Process exit codes: the one place where errors become numbers. Scripts depend on these, so
 * they match restic's where restic has the same case (restic >= 0.17.1).
 *
 * A missing password (NO_PASSWORD) is 1, not 12: restic exits 1 for "an empty password is not
 * allowed" and for a failing password command, and keeps 12 for a password that was given
 * and opened no key. A script can then tell "fix your setup" (1) from "wrong secret" (12).
 */
import { isCofferError, type ErrorCode } from "../core/errors.js";

export const ExitCode = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  /** The backup finished and saved a snapshot, but some files could not be read. */
  PARTIAL: 3,
  REPO_MISSING: 10,
  LOCKED: 11,
  WRONG_PASSWORD: 12,
  /** SIGINT/SIGTERM, or an operation that stopped because it was aborted. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A `Record` over every code, so adding an ErrorCode fails to compile until it is mapped. */
const BY_ERROR_CODE: Record<ErrorCode, ExitCode> = {
  USAGE: ExitCode.USAGE,
  INVALID: ExitCode.ERROR,
  PATH_MISSING: ExitCode.ERROR,
  REPO_MISSING: ExitCode.REPO_MISSING,
  REPO_EXISTS: ExitCode.ERROR,
  WRONG_PASSWORD: ExitCode.WRONG_PASSWORD,
  NO_PASSWORD: ExitCode.ERROR,
  LOCKED: ExitCode.LOCKED,
  LOCK_LOST: ExitCode.ERROR,
  NOT_FOUND: ExitCode.ERROR,
  AMBIGUOUS: ExitCode.ERROR,
  CORRUPT: ExitCode.ERROR,
  NO_SPACE: ExitCode.ERROR,
  BACKEND: ExitCode.ERROR,
  IO: ExitCode.ERROR,
  UNSUPPORTED: ExitCode.ERROR,
  INTERRUPTED: ExitCode.INTERRUPTED,
  PARTIAL: ExitCode.PARTIAL,
};

export function exitCodeForErrorCode(code: ErrorCode): ExitCode {
  return BY_ERROR_CODE[code];
}

/** True for the error an aborted `AbortSignal` makes fetch, streams, timers and spawn throw. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as { code?: unknown }).code === "ABORT_ERR");
}

/**
 * Exit code for anything a command threw. `aborted` is whether the invocation's signal fired:
 * whatever an operation throws once it has been told to stop counts as an interruption (an
 * I/O error caused by tearing the operation down must not read as a real failure).
 */
export function exitCodeFor(err: unknown, aborted = false): ExitCode {
  if (aborted || isAbortError(err)) return ExitCode.INTERRUPTED;
  if (isCofferError(err)) return exitCodeForErrorCode(err.code);
  return ExitCode.ERROR;
}
