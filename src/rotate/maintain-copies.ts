import { dirname } from "node:path";
import { isCofferError, sysCode } from "../core/errors.js";
import { compressFile } from "./compress-file.js";
import { moveFile } from "./move-file.js";
import type { CopyStep } from "./plan-copies.js";
import type { Warning } from "../core/warning.js";
import type { RotateFs } from "./rotate-fs.js";
import type { ResolvedRule } from "./rule.js";

export interface StepOutcome {
  step: CopyStep;
  status: "done" | "failed";
  /** What happened, when it is not simply the step ("left uncompressed: written to meanwhile"). */
  note?: string;
  error?: string;
  warning?: Warning;
}

/**
 * Carries out `planCopies`' steps in order: deletes, moves (across file systems too), then
 * compressions. A step that fails is reported and the rest go on; a compression that meets a
 * full disk leaves the copy uncompressed. A copy whose move did not happen is not compressed.
 */
export async function maintainCopies(fs: RotateFs, rule: ResolvedRule, steps: readonly CopyStep[], each: (o: StepOutcome) => void): Promise<void> {
  const notThere = new Set<string>();
  for (const step of steps) {
    if (notThere.has(step.path)) continue;
    try {
      if (step.kind === "delete") {
        await fs.unlink(step.path);
        each({ step, status: "done" });
      } else if (step.kind === "move") {
        const to = step.to as string;
        await fs.mkdir(dirname(to), { recursive: true });
        if ((await moveFile(fs, step.path, to, { acrossDevices: true })) === "exists") {
          notThere.add(to);
          const message = `Cannot move ${step.path} to ${to}: that name is taken; both are kept.`;
          each({ step, status: "failed", error: message, warning: { code: "COLLISION", path: step.path, message } });
        } else each({ step, status: "done" });
      } else {
        const res = await compressFile(fs, step.path, rule.compress === "zstd" ? "zstd" : "gzip", rule.compressLevel);
        if (res.status === "compressed") each({ step: { ...step, to: res.to }, status: "done" });
        else if (res.status === "changed") {
          const message = `${step.path} was written to while it was compressed; it stays uncompressed and will be compressed on a later run.`;
          each({ step, status: "done", note: "left uncompressed: written to meanwhile", warning: { code: "CHANGED", path: step.path, message } });
        } else {
          const message = `Cannot compress ${step.path}: ${res.to} exists; both are kept.`;
          each({ step, status: "failed", error: message, warning: { code: "COLLISION", path: step.path, message } });
        }
      }
    } catch (err) {
      each(failure(step, err));
    }
  }
}

function failure(step: CopyStep, err: unknown): StepOutcome {
  const code = sysCode(err);
  const what = step.kind === "compress" ? "compressing" : step.kind === "move" ? "moving" : "deleting";
  if (code === "ENOSPC" || code === "EDQUOT") {
    const left = step.kind === "compress" ? "it stays uncompressed" : step.kind === "move" ? "it stays where it was" : "it is still there";
    const message = `No space left while ${what} ${step.path}; ${left}, nothing was lost. Free some space and run the rotation again.`;
    return { step, status: "failed", error: message, warning: { code: "NO_SPACE", path: step.path, message } };
  }
  const why = isCofferError(err) ? err.message : code === "EROFS" ? "read-only file system" : code === "EACCES" || code === "EPERM" ? "permission denied" : err instanceof Error ? err.message : String(err);
  const message = `Failed ${what} ${step.path}: ${why}; it was left as it was.`;
  return { step, status: "failed", error: message, warning: { code: "FAILED", path: step.path, message } };
}
