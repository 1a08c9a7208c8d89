/**
 * Long operations report through this interface; the CLI draws bars from it, the daemon
 * logs it, tests assert on it. Every field is optional so a phase reports what it knows.
 */
export interface ProgressState {
  phase: string;
  filesDone?: number;
  filesTotal?: number;
  bytesDone?: number;
  bytesTotal?: number;
  current?: string;
}

export interface Progress {
  /** Called often; implementations throttle. */
  update(state: ProgressState): void;
  /** The operation is over (success or not). */
  done(): void;
}

export const silentProgress: Progress = { update() {}, done() {} };
