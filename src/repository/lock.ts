import { hostname, userInfo } from "node:os";
import { CofferError } from "../core/errors.js";
import type { Warning } from "../core/warning.js";
import type { Repository } from "./repository.js";

/**
 * Locks (`locks/<id>`): `{ time, hostname, pid, exclusive }`. Backups, copies and checks take
 * shared locks; prune and key removal take exclusive ones. A lock is refreshed every 5 minutes
 * and is stale when older than 30 minutes, or when it is on this host and its process is gone.
 * To take a lock: write ours, then look for conflicting live locks; on conflict remove ours.
 */
export interface LockFile {
  time: string;
  hostname: string;
  pid: number;
  exclusive: boolean;
  username?: string;
}

export const LOCK_REFRESH_MS = 5 * 60 * 1000;
export const LOCK_STALE_MS = 30 * 60 * 1000;

export interface LockOptions {
  exclusive: boolean;
  onWarning?: (w: Warning) => void;
  /** Retry for this long while a conflicting lock is held (ms). */
  waitMs?: number;
}

export class Lock {
  #id: string;
  #timer: NodeJS.Timeout | undefined;
  #released = false;

  private constructor(
    private readonly repo: Repository,
    id: string,
    private readonly file: LockFile,
  ) {
    this.#id = id;
  }

  get id(): string {
    return this.#id;
  }

  static async acquire(repo: Repository, opts: LockOptions): Promise<Lock> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      const file: LockFile = { time: repo.clock().toISOString(), hostname: hostname(), pid: process.pid, exclusive: opts.exclusive, username: lockUser() };
      const id = await repo.saveJson("lock", file);
      const conflict = await findConflict(repo, id, opts.exclusive, opts.onWarning);
      if (!conflict) {
        const lock = new Lock(repo, id, file);
        lock.#startRefresh();
        return lock;
      }
      await repo.backend.remove({ type: "lock", name: id }).catch(() => undefined);
      if (Date.now() >= deadline) {
        const kind = conflict.file.exclusive ? "an exclusive" : "a";
        throw new CofferError(
          "LOCKED",
          `The repository is locked by ${kind} lock of pid ${conflict.file.pid} on ${conflict.file.hostname} since ${conflict.file.time}; wait for it to finish, or run "coffer unlock" if that process is gone.`,
          { lock: conflict.id, ...conflict.file },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  #startRefresh(): void {
    this.#timer = setInterval(() => {
      void this.refresh().catch(() => undefined);
    }, LOCK_REFRESH_MS);
    this.#timer.unref();
  }

  /** Writes a fresh lock file, then removes the old one. */
  async refresh(): Promise<void> {
    if (this.#released) return;
    const file = { ...this.file, time: this.repo.clock().toISOString() };
    const id = await this.repo.saveJson("lock", file);
    const old = this.#id;
    this.#id = id;
    await this.repo.backend.remove({ type: "lock", name: old }).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.repo.backend.remove({ type: "lock", name: this.#id }).catch(() => undefined);
  }
}

export async function loadLocks(repo: Repository): Promise<{ id: string; file: LockFile | undefined }[]> {
  const out: { id: string; file: LockFile | undefined }[] = [];
  for (const id of await repo.listIds("lock")) {
    try {
      out.push({ id, file: (await repo.loadJson("lock", id)) as LockFile });
    } catch (err) {
      if (repo.backend.isNotFound(err)) continue; // released meanwhile
      out.push({ id, file: undefined });
    }
  }
  return out;
}

export function isStale(file: LockFile, now: Date): boolean {
  const t = Date.parse(file.time);
  if (Number.isNaN(t) || now.getTime() - t > LOCK_STALE_MS) return true;
  if (file.hostname === hostname() && !processAlive(file.pid)) return true;
  return false;
}

function lockUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function findConflict(repo: Repository, ownId: string, exclusive: boolean, onWarning?: (w: Warning) => void): Promise<{ id: string; file: LockFile } | undefined> {
  const now = repo.clock();
  for (const { id, file } of await loadLocks(repo)) {
    if (id === ownId || !file) continue;
    if (isStale(file, now)) {
      await repo.backend.remove({ type: "lock", name: id }).catch(() => undefined);
      onWarning?.({ code: "STALE_LOCK", message: `removed stale lock of pid ${file.pid} on ${file.hostname} from ${file.time}` });
      continue;
    }
    if (exclusive || file.exclusive) return { id, file };
  }
  return undefined;
}

/** Removes stale locks (or all with `all`); returns the ids removed. */
export async function removeLocks(repo: Repository, all: boolean): Promise<string[]> {
  const removed: string[] = [];
  const now = repo.clock();
  for (const { id, file } of await loadLocks(repo)) {
    if (all || !file || isStale(file, now)) {
      await repo.backend.remove({ type: "lock", name: id }).catch(() => undefined);
      removed.push(id);
    }
  }
  return removed;
}
