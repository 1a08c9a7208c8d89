import { hostname, userInfo } from "node:os";
import { CofferError, isCofferError } from "../core/errors.js";
import type { Warning } from "../core/warning.js";
import { decodeJsonFile } from "./file-codec.js";
import type { Repository } from "./repository.js";

/**
 * Locks (`locks/<id>`): `{ time, hostname, pid, exclusive }`. Backups, copies and checks take
 * shared locks; prune and key removal take exclusive ones. A lock is refreshed every 5 minutes
 * and is stale when older than 30 minutes, or when it is on this host and its process is gone.
 * To take a lock: write ours, then look for conflicting live locks; on conflict remove ours.
 * To refresh it: write a new file, check the old one is still there, remove the old one.
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
  /** How often the lock is refreshed (ms; default LOCK_REFRESH_MS). */
  refreshMs?: number;
}

/** The locks this process holds, per repository: what `ensureLocksHeld` checks. */
const held = new WeakMap<Repository, Set<Lock>>();

/**
 * A lock this process holds. It is refreshed in the background; each refresh also checks that
 * the lock file is still there. A lock file removed by someone else (`coffer unlock`, or a
 * process that found it stale because it had not been refreshed for 30 minutes, e.g. while
 * this machine slept or the backend was unreachable) means a prune may have run meanwhile:
 * the lock is then lost, for good. `signal` aborts with the LOCK_LOST error: backup's walk,
 * prune's tree reading and repacking, and copy stop at once (`withLockSignal`, `stopError`).
 * The points where an operation commits (`saveSnapshot`, prune's deletions) call
 * `ensureLocksHeld`, which throws it, so nothing is saved that could refer to data the prune
 * deleted, even where the refresh timer has not run yet.
 */
export class Lock {
  #id: string;
  #file: LockFile;
  #timer: NodeJS.Timeout | undefined;
  #released = false;
  /** Repository clock (ms) of the last write of the lock file. */
  #refreshedAt: number;
  #lost: CofferError | undefined;
  readonly #abort = new AbortController();

  private constructor(
    private readonly repo: Repository,
    id: string,
    file: LockFile,
    private readonly opts: LockOptions,
  ) {
    this.#id = id;
    this.#file = file;
    this.#refreshedAt = Date.parse(file.time);
  }

  get id(): string {
    return this.#id;
  }

  /** Aborted, with the LOCK_LOST error as its reason, when the lock file was found removed. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** The LOCK_LOST error once the lock is lost; undefined while it is held. */
  get lost(): CofferError | undefined {
    return this.#lost;
  }

  static async acquire(repo: Repository, opts: LockOptions): Promise<Lock> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      const file: LockFile = { time: repo.clock().toISOString(), hostname: hostname(), pid: process.pid, exclusive: opts.exclusive, username: lockUser() };
      const id = await repo.saveJson("lock", file);
      const conflict = await findConflict(repo, id, opts.exclusive, opts.onWarning);
      if (!conflict) {
        const lock = new Lock(repo, id, file, opts);
        lock.#startRefresh();
        let set = held.get(repo);
        if (!set) held.set(repo, (set = new Set()));
        set.add(lock);
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
      // A failed write is tried again at the next tick; a lost lock stops the timer.
      void this.refresh().catch(() => undefined);
    }, this.opts.refreshMs ?? LOCK_REFRESH_MS);
    this.#timer.unref();
  }

  /**
   * Writes a fresh lock file, checks that the one it replaces is still ours, then removes that
   * one. Throws LOCK_LOST (and stays lost) when it is gone or is not ours any more; other
   * errors (the backend unreachable) leave the old file in place for the next try.
   */
  async refresh(): Promise<void> {
    if (this.#released) return;
    if (this.#lost) throw this.#lost;
    const now = this.repo.clock();
    const file = { ...this.#file, time: now.toISOString() };
    const old = this.#id;
    // The new file first: a prune that starts from now on sees it. (Unencrypted, the same
    // time gives the same name: then there is nothing new to write.)
    const id = file.time === this.#file.time ? old : await this.repo.saveJson("lock", file);
    const problem = await this.#check(old);
    if (problem !== undefined) {
      // The new file stays until release: it keeps new prunes out while the operation stops.
      this.#id = id;
      this.#file = file;
      throw this.#lose(problem);
    }
    this.#id = id;
    this.#file = file;
    this.#refreshedAt = now.getTime();
    if (id !== old) await this.repo.backend.remove({ type: "lock", name: old }).catch(() => undefined);
  }

  /**
   * Throws LOCK_LOST when the lock is lost. When its last refresh is older than half the stale
   * time (the timer could not run or kept failing), refreshes it first, which checks it.
   */
  async ensureHeld(): Promise<void> {
    if (this.#released) return;
    if (this.#lost) throw this.#lost;
    if (this.repo.clock().getTime() - this.#refreshedAt > LOCK_STALE_MS / 2) await this.refresh();
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer) clearInterval(this.#timer);
    held.get(this.repo)?.delete(this);
    await this.repo.backend.remove({ type: "lock", name: this.#id }).catch(() => undefined);
  }

  /** Why the lock file `id` is no longer ours ("removed", "replaced"), or undefined when it is. */
  async #check(id: string): Promise<string | undefined> {
    let f: LockFile;
    try {
      f = decodeJsonFile(await this.repo.backend.load({ type: "lock", name: id }), this.repo.crypter, `lock ${id.slice(0, 8)}`, id) as LockFile;
    } catch (err) {
      if (this.repo.backend.isNotFound(err)) return "removed";
      if (isCofferError(err, "CORRUPT")) return "replaced";
      throw err;
    }
    return f.pid === this.#file.pid && f.hostname === this.#file.hostname && f.time === this.#file.time ? undefined : "replaced";
  }

  #lose(how: string): CofferError {
    const age = Math.round((this.repo.clock().getTime() - this.#refreshedAt) / 60_000);
    this.#lost = new CofferError(
      "LOCK_LOST",
      `This process's lock on the repository was ${how} by someone else (coffer unlock, or a process that found it stale: it was last refreshed ${age} min ago), so a prune may have run meanwhile; the operation stops without saving, run it again.`,
      { lock: this.#id, how, lastRefreshed: new Date(this.#refreshedAt).toISOString() },
    );
    if (this.#timer) clearInterval(this.#timer);
    this.opts.onWarning?.({ code: "LOCK_LOST", message: this.#lost.message });
    this.#abort.abort(this.#lost);
    return this.#lost;
  }
}

/**
 * Throws LOCK_LOST if a lock this process holds on `repo` was lost (see Lock). Called where an
 * operation commits, before it writes what would refer to data a prune could have deleted.
 */
export async function ensureLocksHeld(repo: Repository): Promise<void> {
  for (const lock of [...(held.get(repo) ?? [])]) await lock.ensureHeld();
}

/**
 * `signal` and the lock's together, for an operation's long phases: aborted when either is
 * (with the lock's LOCK_LOST error as the reason when the lock was lost).
 */
export function withLockSignal(signal: AbortSignal | undefined, lock: Lock | undefined): AbortSignal | undefined {
  if (lock === undefined) return signal;
  return signal === undefined ? lock.signal : AbortSignal.any([signal, lock.signal]);
}

/** What to throw once `signal` aborted: the LOCK_LOST error when the lock was lost, else INTERRUPTED with `message`. */
export function stopError(signal: AbortSignal | undefined, message: string): CofferError {
  const reason: unknown = signal?.reason;
  return isCofferError(reason, "LOCK_LOST") ? reason : new CofferError("INTERRUPTED", message);
}

export async function loadLocks(repo: Repository, except?: string): Promise<{ id: string; file: LockFile | undefined }[]> {
  const out: { id: string; file: LockFile | undefined }[] = [];
  for (const id of await repo.listIds("lock")) {
    if (id === except) continue; // our own: no need to read it back (a request to a remote store)
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
  for (const { id, file } of await loadLocks(repo, ownId)) {
    if (!file) continue;
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
