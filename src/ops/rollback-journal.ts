import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A note that a rollback is under way, kept outside the repository (a state directory of
 * this machine) from the moment the restore starts writing until it has finished and
 * verified. A rollback that finds one knows the previous run was interrupted, and where the
 * state from before that run is (its safety snapshot): the new run's own safety snapshot
 * holds the half-restored tree, which is rarely what the user wants back.
 */
export interface RollbackJournal {
  /** The snapshot that was being rolled back to. */
  snapshot: string;
  label?: string;
  /** Its safety snapshot(s): the state before it started. */
  safety: string[];
  paths: string[];
  started: string;
}

export function journalFile(dir: string, repoId: string, paths: readonly string[]): string {
  const key = createHash("sha256").update(`${repoId}\0${[...paths].sort().join("\0")}`).digest("hex").slice(0, 16);
  return join(dir, `rollback-${key}.json`);
}

export function readJournal(file: string): RollbackJournal | undefined {
  try {
    const j = JSON.parse(readFileSync(file, "utf8")) as RollbackJournal;
    return typeof j.snapshot === "string" && Array.isArray(j.safety) ? j : undefined;
  } catch {
    return undefined; // none, or unreadable: nothing to report
  }
}

export function writeJournal(file: string, j: RollbackJournal): void {
  mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(j), { mode: 0o600 });
  renameSync(tmp, file);
}

export function clearJournal(file: string): void {
  rmSync(file, { force: true });
}
