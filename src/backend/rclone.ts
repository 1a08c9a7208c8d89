import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CofferError, sysCode } from "../core/errors.js";
import { isNotFoundError, isPermanentError, type Backend, type BackendProperties, type FileInfo, type FileType, type Handle, type LoadOptions } from "./backend.js";
import { RestBackend } from "./rest.js";

/**
 * `rclone:REMOTE:PATH`: every storage rclone reaches, through `rclone serve restic` started as
 * a child process and spoken to with the REST driver. The child listens on 127.0.0.1 on a
 * port the kernel picks (read from its log line "Serving restic REST API on URL") and only
 * accepts a random user and password made for this process (passed in its environment), so
 * other local users cannot reach the repository through it. (`--stdio` would avoid the port, but Debian's rclone 1.60 has no
 * such flag, and one pipe allows one request at a time.) The child is started on first use
 * and stopped by `close()`.
 *
 * So that rclone dies with coffer even when coffer is SIGKILLed (no `close()`, no exit
 * handler), it runs under a small sh wrapper (GUARD) whose stdin is a pipe from coffer: the
 * kernel closes that pipe when coffer exits in any way, and the wrapper then stops rclone.
 */
export interface RcloneOptions {
  /** `REMOTE:PATH` as rclone names it (`b2:bucket/coffer`, `/local/dir`). */
  remote: string;
  /** The rclone binary (default `rclone`, or COFFER_RCLONE_PROGRAM). */
  program?: string;
  /** Extra arguments before the remote (default none). */
  args?: string[];
  connections?: number;
  /** How long to wait for rclone to listen (default 60 s). */
  startTimeoutMs?: number;
  env?: Record<string, string | undefined>;
}

export function parseRcloneUrl(url: string): RcloneOptions {
  const remote = url.startsWith("rclone:") ? url.slice("rclone:".length) : url;
  if (remote === "") throw new CofferError("USAGE", `No rclone remote given in ${JSON.stringify(url)}; write it as rclone:REMOTE:PATH.`, { url });
  return { remote };
}

/**
 * `sh -c GUARD sh PROGRAM ARGS...`: runs the program in the background with stdin from
 * /dev/null, and stops it (SIGTERM) when its own stdin reaches end of file, or when it gets
 * SIGTERM/SIGINT/SIGHUP itself. Exits with the program's status when the program exits.
 * (A background list's stdin is /dev/null in sh, hence the copy of the pipe on fd 3.)
 */
const GUARD = [
  "exec 3<&0",
  '"$@" </dev/null 3<&- &',
  "child=$!",
  '{ cat >/dev/null; kill -TERM "$child" 2>/dev/null; } <&3 &',
  "watcher=$!",
  "exec 3<&-",
  "stopping=",
  'trap \'stopping=1; kill -TERM "$child" 2>/dev/null\' TERM INT HUP',
  'wait "$child"',
  "status=$?",
  // A trapped signal ends `wait` early: wait again for the program to finish stopping.
  'if [ -n "$stopping" ]; then wait "$child"; status=$?; fi',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join("\n");

/** Status sh gives for a program it cannot find. */
const SH_NOT_FOUND = 127;

export class RcloneBackend implements Backend {
  readonly location: string;
  readonly properties: BackendProperties;
  #rest: Promise<RestBackend> | undefined;
  #child: ChildProcess | undefined;
  #closed = false;

  constructor(private readonly opts: RcloneOptions) {
    this.location = `rclone:${opts.remote}`;
    this.properties = { kind: "rclone", connections: opts.connections ?? 5, atomicReplace: true, remote: !opts.remote.startsWith("/") };
  }

  async create(): Promise<void> {
    return (await this.#ready()).create();
  }
  async save(h: Handle, data: Uint8Array): Promise<void> {
    return (await this.#ready()).save(h, data);
  }
  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    return (await this.#ready()).load(h, opts);
  }
  async stat(h: Handle): Promise<FileInfo> {
    return (await this.#ready()).stat(h);
  }
  async *list(type: FileType): AsyncIterable<FileInfo> {
    yield* (await this.#ready()).list(type);
  }
  async remove(h: Handle): Promise<void> {
    return (await this.#ready()).remove(h);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const rest = this.#rest;
    this.#rest = undefined;
    if (rest) await rest.then((r) => r.close()).catch(() => undefined);
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    }
    // End of file for the guard's watcher (which stops rclone if the guard itself was killed).
    child?.stdin?.destroy();
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    if (err instanceof CofferError && typeof err.data["status"] === "number") return [400, 401, 403, 405].includes(err.data["status"]);
    return isPermanentError(err);
  }

  #ready(): Promise<RestBackend> {
    if (this.#closed) return Promise.reject(new CofferError("INVALID", `The rclone backend for ${this.location} is closed; this is a bug in coffer.`));
    if (!this.#rest) {
      this.#rest = this.#start();
      // A failed start is tried again on the next request (the retry wrapper's job).
      this.#rest.catch(() => (this.#rest = undefined));
    }
    return this.#rest;
  }

  async #start(): Promise<RestBackend> {
    const env = this.opts.env ?? process.env;
    const program = this.opts.program ?? env["COFFER_RCLONE_PROGRAM"] ?? "rclone";
    const user = randomBytes(8).toString("hex");
    const pass = randomBytes(24).toString("hex");
    const args = ["serve", "restic", "--addr", "127.0.0.1:0", "--cache-objects=false", ...(this.opts.args ?? []), this.opts.remote];
    // The credentials go in the environment (rclone reads flags from RCLONE_*): a command line is readable by every local user.
    const childEnv = { ...env, RCLONE_USER: user, RCLONE_PASS: pass } as NodeJS.ProcessEnv;
    const guarded = process.platform !== "win32";
    const child = guarded
      ? spawn("/bin/sh", ["-c", GUARD, "sh", program, ...args], { stdio: ["pipe", "ignore", "pipe"], env: childEnv })
      : spawn(program, args, { stdio: ["ignore", "ignore", "pipe"], env: childEnv });
    // Nothing is ever written to the guard: an error on the pipe only means it is gone.
    child.stdin?.on("error", () => undefined);
    this.#child = child;
    const notInstalled = `${program} is not installed (install rclone, or set COFFER_RCLONE_PROGRAM)`;
    const url = await new Promise<string>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => fail(`it did not start listening within ${(this.opts.startTimeoutMs ?? 60_000) / 1000} s`), this.opts.startTimeoutMs ?? 60_000);
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        child.stdin?.destroy();
        const last = log.trim().split("\n").slice(-3).join(" | ");
        reject(new CofferError("BACKEND", `Cannot start "${program} serve restic" for ${this.location}: ${why}${last ? ` (${last})` : ""}.`, { remote: this.opts.remote, status: 400 }, { cause }));
      };
      child.on("error", (err) =>
        fail(sysCode(err) === "ENOENT" ? notInstalled : (err as Error).message, err),
      );
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(guarded && code === SH_NOT_FOUND ? notInstalled : `it exited with ${signal ?? `code ${code}`}`);
      child.on("exit", onExit);
      child.stderr?.setEncoding("utf8");
      const onLog = (chunk: string): void => {
        if (log.length < 64 * 1024) log += chunk;
        const m = /Serving restic REST API on (https?:\/\/\S+)/.exec(log);
        if (m?.[1]) {
          clearTimeout(timer);
          // Only these two: close() listens for the exit too.
          child.removeListener("exit", onExit);
          child.stderr?.removeListener("data", onLog);
          resolve(m[1]);
        }
      };
      child.stderr?.on("data", onLog);
    });
    // Keep draining its log so the child never blocks on a full pipe.
    child.stderr?.resume();
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    const u = new URL(url);
    u.username = user;
    u.password = pass;
    return new RestBackend({ url: u.href, location: this.location, ...(this.opts.connections ? { connections: this.opts.connections } : {}) });
  }
}
