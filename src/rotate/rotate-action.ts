import type { Warning } from "../core/warning.js";

/**
 * One line of a rotation's plan and result: what was (or, in a dry run, would be) done to which
 * file, and why. `skip` records a log that was looked at and left alone, with the reason.
 */
export interface RotateAction {
  kind: "rotate" | "shift" | "create" | "truncate" | "move" | "compress" | "delete" | "script" | "signal" | "skip";
  rule: string;
  path: string;
  to?: string;
  reasons: string[];
  /** `planned` only in a dry run. */
  status: "planned" | "done" | "failed";
  error?: string;
}

export interface RotateResult {
  dryRun: boolean;
  now: string;
  /** Log files examined. */
  files: number;
  /** Logs rotated (or that would be, in a dry run). */
  rotated: string[];
  actions: RotateAction[];
  warnings: Warning[];
  /** Actions that failed; each also produced a warning. */
  failed: number;
}
