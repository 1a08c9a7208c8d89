/**
 * What the daemon remembers between runs, per job: when it was first seen, its last run, last
 * success and last failure, consecutive failures, the next run, and the run in flight. One JSON
 * file, `$XDG_STATE_HOME/coffer/<config id>/state.json`, replaced atomically (temp file, fsync,
 * rename, fsync of the folder) after every change, so a crash leaves the previous or the new
 * state, never a torn one. A run in flight is written down when it starts: after a crash the
 * daemon finds it, says so, and runs the job again (at most that one run is lost).
 */
import { createHash } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";

export const STATE_VERSION = 1;

/** How a run ended. `interrupted`: the daemon stopped it (SIGTERM); it does not count and runs again. */
export type RunResult = "success" | "partial" | "failure" | "timeout" | "interrupted";

export interface RunRecord {
  /** ISO times. */
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: RunResult;
  attempts: number;
  error?: { code?: string; message: string };
  summary?: string;
  bytesAdded?: number;
  snapshot?: string;
  details?: Record<string, unknown>;
}

export interface JobState {
  /** When the daemon first saw the job: cron slots missed since then are caught up. */
  since: string;
  lastRun?: RunRecord;
  lastSuccess?: RunRecord;
  lastFailure?: RunRecord;
  consecutiveFailures: number;
  /** Since the daemon first saw the job, for the metrics' counters. */
  runs: number;
  failures: number;
  /** ISO time, or null when the schedule has no next run (disabled, a cron with no future match). */
  nextRun?: string | null;
  inFlight?: { startedAt: string; attempt: number; pid: number };
}

/** Facts about a repository gathered after the jobs that use it (and at start). */
export interface RepositoryFacts {
  checkedAt: string;
  reachable: boolean;
  error?: string;
  /** Sum of the stored files. */
  sizeBytes?: number;
  snapshots?: number;
  /** Snapshot counts by source name ("" for snapshots without one). */
  snapshotsBySource?: Record<string, number>;
  /** Newest snapshot time by source name. */
  newestBySource?: Record<string, string>;
}

export interface DaemonState {
  version: typeof STATE_VERSION;
  /** The configuration file the state belongs to. */
  config?: string;
  jobs: Record<string, JobState>;
  repositories: Record<string, RepositoryFacts>;
  /** The daemon that wrote it last. */
  daemon?: { pid: number; host: string; startedAt: string; http?: string; stoppedAt?: string };
}

export function emptyState(config?: string): DaemonState {
  return { version: STATE_VERSION, ...(config !== undefined ? { config } : {}), jobs: {}, repositories: {} };
}

/** Where state is loaded from and saved to. */
export interface StateStore {
  load(): Promise<DaemonState>;
  save(state: DaemonState): Promise<void>;
}

/** For tests and for a daemon without a state folder: keeps a copy, as a file would. */
export class MemoryStateStore implements StateStore {
  #json: string | undefined;
  saves = 0;
  constructor(initial?: DaemonState) {
    if (initial) this.#json = JSON.stringify(initial);
  }
  async load(): Promise<DaemonState> {
    return this.#json === undefined ? emptyState() : (JSON.parse(this.#json) as DaemonState);
  }
  async save(state: DaemonState): Promise<void> {
    this.saves++;
    this.#json = JSON.stringify(state);
  }
}

export interface FileStateStoreOptions {
  /** Told when an unreadable state file was set aside. */
  onWarning?: (message: string) => void;
  /** For readers beside the daemon (status, health): an unreadable file is left where it is. */
  readOnly?: boolean;
}

export class FileStateStore implements StateStore {
  readonly path: string;
  readonly #onWarning: (message: string) => void;
  readonly #readOnly: boolean;

  constructor(path: string, opts: FileStateStoreOptions = {}) {
    this.path = path;
    this.#onWarning = opts.onWarning ?? (() => undefined);
    this.#readOnly = opts.readOnly === true;
  }

  /** The state, or an empty one when there is no file yet. An unreadable file is set aside (`.bad-<time>`), not fatal. */
  async load(): Promise<DaemonState> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if (sysCode(err) === "ENOENT") return emptyState();
      throw ioError(err, `reading the daemon state ${this.path}`);
    }
    try {
      const state = JSON.parse(text) as DaemonState;
      if (state.version !== STATE_VERSION || typeof state.jobs !== "object" || state.jobs === null) throw new Error(`unknown version ${String(state.version)}`);
      state.repositories ??= {};
      return state;
    } catch (err) {
      if (this.#readOnly) {
        this.#onWarning(`The daemon state ${this.path} could not be read (${(err as Error).message}).`);
        return emptyState();
      }
      const aside = `${this.path}.bad-${new Date().toISOString().replace(/[:.]/g, "")}`;
      await rename(this.path, aside).catch(() => undefined);
      this.#onWarning(`The daemon state ${this.path} could not be read (${(err as Error).message}); it was moved to ${aside} and the daemon starts afresh (jobs may run again now).`);
      return emptyState();
    }
  }

  async save(state: DaemonState): Promise<void> {
    if (this.#readOnly) throw new CofferError("USAGE", `${this.path} was opened read-only.`);
    await writeAtomic(this.path, JSON.stringify(state, null, 2) + "\n");
  }
}

/** Writes `path` so that a crash leaves either the old or the new content: temp, fsync, rename, fsync the folder. */
export async function writeAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ioError(err, `writing ${path}`);
  }
  const d = await open(dir, "r").catch(() => undefined);
  if (d) {
    await d.sync().catch(() => undefined);
    await d.close();
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** `$XDG_STATE_HOME/coffer` (default `~/.local/state/coffer`). */
export function stateHome(env: Env = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  return join(xdg !== undefined && xdg.startsWith("/") ? xdg : join(home, ".local", "state"), "coffer");
}

/**
 * A short, stable id for a configuration: from its absolute path, so that editing the file
 * keeps its state (and the one-daemon lock) while two configurations never share them.
 */
export function configId(configFile: string): string {
  return createHash("sha256").update(resolve(configFile)).digest("hex").slice(0, 16);
}

/** `$XDG_STATE_HOME/coffer/<config id>`: state, pid file and log of the daemon for that configuration. */
export function daemonStateDir(configFile: string, env: Env = process.env): string {
  return join(stateHome(env), configId(configFile));
}

export function thisDaemon(startedAt: Date): NonNullable<DaemonState["daemon"]> {
  return { pid: process.pid, host: hostname(), startedAt: startedAt.toISOString() };
}

/** A record's error, from whatever was thrown. */
export function errorOf(err: unknown): { code?: string; message: string } {
  if (err instanceof CofferError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { message: err.message };
  return { message: String(err) };
}
