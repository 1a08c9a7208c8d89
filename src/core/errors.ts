/**
 * The one error type of coffer. `code` is stable (tests and callers switch on it);
 * `message` is one sentence for a person, saying what went wrong and what to do.
 */
export type ErrorCode =
  | "USAGE" // bad arguments or options
  | "INVALID" // input that is well-formed but not acceptable (bad path, bad value)
  | "PATH_MISSING" // a path given to back up does not exist
  | "REPO_MISSING" // no repository at the location
  | "REPO_EXISTS" // init over an existing repository
  | "WRONG_PASSWORD" // no key file opens with the password
  | "NO_PASSWORD" // a password is needed and none was given
  | "LOCKED" // a conflicting lock is held
  | "LOCK_LOST" // the lock this process held was removed by someone else while it ran
  | "NOT_FOUND" // an object, snapshot or file is not there
  | "AMBIGUOUS" // an id prefix matches more than one object
  | "CORRUPT" // stored data failed verification
  | "NO_SPACE" // the disk or backend is full
  | "BACKEND" // the storage backend failed
  | "IO" // a local file operation failed
  | "UNSUPPORTED" // a feature or format version this build does not know
  | "INTERRUPTED" // stopped by a signal
  | "PARTIAL"; // the operation finished but skipped some items

export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CofferError";
    this.code = code;
    this.data = data;
  }
}

export function isCofferError(err: unknown, code?: ErrorCode): err is CofferError {
  return err instanceof CofferError && (code === undefined || err.code === code);
}

/** Node's system error, narrowed. */
export interface SystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export function sysCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null ? ((err as SystemError).code ?? undefined) : undefined;
}

/** Maps an I/O failure to a CofferError, keeping ENOSPC/EDQUOT recognisable. */
export function ioError(err: unknown, what: string): CofferError {
  if (err instanceof CofferError) return err;
  const code = sysCode(err);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new CofferError("NO_SPACE", `No space left while ${what}; free some space and run the command again.`, { sys: code }, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new CofferError("IO", `Failed while ${what}: ${msg}`, { sys: code }, { cause: err });
}
