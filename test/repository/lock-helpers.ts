// Lock files written by hand, as another process (live or gone) would have left them.
import { spawnSync } from "node:child_process";
import type { LockFile } from "../../src/repository/lock.js";
import type { Repository } from "../../src/repository/repository.js";

export function saveLockFile(repo: Repository, file: LockFile): Promise<string> {
  return repo.saveJson("lock", file);
}

/** The pid of a process that has exited (and so is not running). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}
