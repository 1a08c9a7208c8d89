import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CofferError, sysCode } from "../core/errors.js";
import { isNotFoundError, isPermanentError, type Backend, type BackendProperties, type FileInfo, type FileType, type Handle, type LoadOptions } from "./backend.js";
import { RestBackend } from "./rest.js";

/**
 * `rclone:REMOTE:PATH`: every storage rclone reaches, through `rclone serve restic` started as
 * a child process and spoken to with the REST driver. The child listens on 127.0.0.1 on a
 * port the kernel picks (read from its log line "Serving restic REST API on URL") and only
 * accepts a random user and password made for this process, so other local users cannot reach
 * the repository through it. (`--stdio` would avoid the port, but Debian's rclone 1.60 has no
 * such flag, and one pipe allows one request at a time.) The child is started on first use
 * and stopped by `close()`.
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
    const args = ["serve", "restic", "--addr", "127.0.0.1:0", "--user", user, "--pass", pass, "--cache-objects=false", ...(this.opts.args ?? []), this.opts.remote];
    const child = spawn(program, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...env } as NodeJS.ProcessEnv });
    this.#child = child;
    const url = await new Promise<string>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => fail(`it did not start listening within ${(this.opts.startTimeoutMs ?? 60_000) / 1000} s`), this.opts.startTimeoutMs ?? 60_000);
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        const last = log.trim().split("\n").slice(-3).join(" | ");
        reject(new CofferError("BACKEND", `Cannot start "${program} serve restic" for ${this.location}: ${why}${last ? ` (${last})` : ""}.`, { remote: this.opts.remote, status: 400 }, { cause }));
      };
      child.on("error", (err) =>
        fail(sysCode(err) === "ENOENT" ? `${program} is not installed (install rclone, or set COFFER_RCLONE_PROGRAM)` : (err as Error).message, err),
      );
      child.on("exit", (code, signal) => fail(`it exited with ${signal ?? `code ${code}`}`));
      child.stderr?.setEncoding("utf8");
      child.stderr?.on("data", (chunk: string) => {
        if (log.length < 64 * 1024) log += chunk;
        const m = /Serving restic REST API on (https?:\/\/\S+)/.exec(log);
        if (m?.[1]) {
          clearTimeout(timer);
          child.removeAllListeners("exit");
          resolve(m[1]);
        }
      });
    });
    // Keep draining its log so the child never blocks on a full pipe.
    child.stderr?.resume();
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    const u = new URL(url);
    u.username = user;
    u.password = pass;
    return new RestBackend({ url: u.href, location: this.location, ...(this.opts.connections ? { connections: this.opts.connections } : {}) });
  }
}
