import type { Client, FileEntryWithStats, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from "ssh2";
import { CofferError } from "../core/errors.js";
import { blobType, checkHostKey, fingerprint, knownHostName, knownKeyTypes, type HostKeyVerdict, type KnownHost } from "./known-hosts.js";
import type { SftpIdentities } from "./sftp-auth.js";
import { sshConnectError } from "./sftp-error.js";

type Ssh2 = typeof import("ssh2");

export interface SessionOptions {
  /** The host connected to, and whose name known_hosts is searched for (as ssh does). */
  host: string;
  /** The host as the URL names it, when an SSH config file gave settings for it (messages name both). */
  alias?: { name: string; file: string };
  port: number;
  user: string;
  /** The repository URL, for messages. */
  location: string;
  identities: SftpIdentities;
  knownHosts: readonly KnownHost[];
  /** The known_hosts files read, as a person names them (`~/.ssh/known_hosts`), for messages. */
  knownHostsShown: string;
  /** How long connecting and the SSH handshake may take. */
  connectTimeoutMs: number;
  /** How long one SFTP request may go unanswered before the connection counts as dead. */
  timeoutMs: number;
}

// ssh2's default host key algorithms; the ones known_hosts lists for the host go first, so that
// a server with several keys presents the one the user accepted (as OpenSSH orders them).
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/**
 * One SSH connection with one SFTP channel, its requests as promises. Many requests may be in
 * flight at once (SFTP pipelines them); when none is answered for `timeoutMs`, the connection
 * is torn down, failing every request in flight, so that the backend reconnects.
 * A session never comes back to life: `alive` turns false for good when the connection closes.
 */
export class SftpSession {
  readonly #client: Client;
  readonly #sftp: SFTPWrapper;
  readonly #timeoutMs: number;
  readonly #pending = new Set<(err: Error) => void>();
  #alive = true;
  /** When a request last settled, or the first of those in flight was sent. */
  #progressAt = 0;
  #watchdog: NodeJS.Timeout | undefined;

  private constructor(client: Client, sftp: SFTPWrapper, timeoutMs: number) {
    this.#client = client;
    this.#sftp = sftp;
    this.#timeoutMs = timeoutMs;
    const dead = (): void => this.#die(new Error("the SSH connection was closed"));
    client.on("close", dead);
    client.on("end", dead);
    client.on("error", (err) => this.#die(err));
    sftp.on("close", dead);
    sftp.on("error", (err: Error) => this.#die(err));
  }

  /** Connects, checks the host key against known_hosts, logs in and starts SFTP. */
  static async open(ssh2: Ssh2, o: SessionOptions): Promise<SftpSession> {
    const server = `${o.host}:${o.port}${o.alias ? ` (Host ${o.alias.name} in ${o.alias.file})` : ""}`;
    const name = knownHostName(o.host, o.port);
    const known = knownKeyTypes(o.knownHosts, name).flatMap((t) => (t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t]));
    const algorithms = [...new Set([...HOST_KEY_ALGORITHMS.filter((a) => known.includes(a)), ...HOST_KEY_ALGORITHMS])];
    const client = new ssh2.Client();
    let refused: CofferError | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        client.once("ready", () => resolve());
        client.on("error", (err: Error & { level?: string }) => {
          // An agent that cannot be reached (a stale SSH_AUTH_SOCK) is reported, then ssh2 goes
          // on with the key files: not the end of the attempt.
          if (err.level !== "agent") reject(refused ?? err);
        });
        client.once("close", () => reject(refused ?? Object.assign(new Error("Connection lost before handshake"), { level: "protocol" })));
        client.connect({
          host: o.host,
          port: o.port,
          username: o.user,
          authHandler: o.identities.methods,
          hostVerifier: (key: Buffer): boolean => {
            const verdict = checkHostKey(o.knownHosts, name, key);
            if (verdict.status !== "known") refused = hostKeyError(verdict, key, { ...o, server, name });
            return verdict.status === "known";
          },
          algorithms: { serverHostKey: algorithms },
          readyTimeout: o.connectTimeoutMs,
          keepaliveInterval: 15_000,
          keepaliveCountMax: 4,
        });
      });
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        client.once("close", () => reject(new Error("the connection closed while SFTP started")));
        client.sftp((err, s) => (err ? reject(err) : resolve(s)));
      });
      return new SftpSession(client, sftp, o.timeoutMs);
    } catch (err) {
      client.on("error", () => undefined); // late errors of a connection given up
      client.end();
      client.destroy();
      throw sshConnectError(err, { location: o.location, server, user: o.user, tried: o.identities.tried, timeoutMs: o.connectTimeoutMs, ...(o.alias ? { sshConfig: o.alias.file } : {}) });
    }
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Whether the server offers an OpenSSH extension (`posix-rename@openssh.com`, ...). */
  hasExtension(name: string): boolean {
    const exts = (this.#sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return exts?.[name] !== undefined;
  }

  open(path: string, flags: "r" | "wx", mode?: number): Promise<Buffer> {
    return this.#call((cb) => (mode === undefined ? this.#sftp.open(path, flags, cb) : this.#sftp.open(path, flags, mode, cb)));
  }

  close(handle: Buffer): Promise<void> {
    return this.#call((cb) => this.#sftp.close(handle, cb));
  }

  /** Reads into `buf`; resolves to the bytes read, 0 at the end of the file. */
  read(handle: Buffer, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.#call((cb) => this.#sftp.read(handle, buf, offset, length, position, (err, n) => cb(err, n)));
  }

  write(handle: Buffer, buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    return this.#call((cb) => this.#sftp.write(handle, buf, offset, length, position, cb));
  }

  fstat(handle: Buffer): Promise<Stats> {
    return this.#call((cb) => this.#sftp.fstat(handle, cb));
  }

  /** fsync@openssh.com: the file's bytes are on the server's disk. */
  fsync(handle: Buffer): Promise<void> {
    return this.#call((cb) => this.#sftp.ext_openssh_fsync(handle, (err) => cb(err)));
  }

  stat(path: string): Promise<Stats> {
    return this.#call((cb) => this.#sftp.stat(path, cb));
  }

  readdir(path: string): Promise<FileEntryWithStats[]> {
    return this.#call((cb) => this.#sftp.readdir(path, cb));
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.#call((cb) => this.#sftp.mkdir(path, { mode }, cb));
  }

  unlink(path: string): Promise<void> {
    return this.#call((cb) => this.#sftp.unlink(path, cb));
  }

  /** SFTP v3 rename: fails when `to` exists. */
  rename(from: string, to: string): Promise<void> {
    return this.#call((cb) => this.#sftp.rename(from, to, cb));
  }

  /** posix-rename@openssh.com: replaces `to` atomically. */
  posixRename(from: string, to: string): Promise<void> {
    return this.#call((cb) => this.#sftp.ext_openssh_rename(from, to, cb));
  }

  /** Closes the connection; requests still in flight fail. */
  end(): void {
    this.#die(new Error("the SSH connection was closed by coffer"));
  }

  #die(err: Error): void {
    this.#stopWatchdog();
    if (this.#alive) {
      this.#alive = false;
      this.#client.end();
      // end() waits for the server; a dead network would keep the socket (and the process) alive.
      setTimeout(() => this.#client.destroy(), 1000).unref();
    }
    for (const fail of [...this.#pending]) fail(err);
    this.#pending.clear();
  }

  /**
   * Runs one request. A request on a dead session, or one the connection drops, fails with a
   * plain Error (mapped to a transient error by the caller). While requests are in flight, the
   * server must answer one of them every `timeoutMs`, or the session is killed: "no progress",
   * not the age of one request, since on a slow link a request may wait long behind others.
   */
  #call<T>(start: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    if (!this.#alive) return Promise.reject(new Error("the SSH connection was lost"));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const settle = (err: Error | null | undefined, value?: T): void => {
        if (done) return;
        done = true;
        this.#pending.delete(fail);
        this.#progressAt = Date.now();
        if (this.#pending.size === 0) this.#stopWatchdog();
        if (err) reject(err);
        else resolve(value as T);
      };
      const fail = (err: Error): void => settle(err);
      if (this.#pending.size === 0) this.#progressAt = Date.now();
      this.#pending.add(fail);
      this.#watchdog ??= setInterval(() => {
        if (Date.now() - this.#progressAt > this.#timeoutMs) this.#die(new Error(`the server answered nothing for ${this.#timeoutMs / 1000} s`));
      }, Math.min(1000, this.#timeoutMs / 4));
      try {
        start(settle);
      } catch (err) {
        settle(err as Error);
      }
    });
  }

  #stopWatchdog(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }
}

/** One sentence for a host key that does not match known_hosts: connecting is refused. */
function hostKeyError(v: HostKeyVerdict, key: Buffer, o: SessionOptions & { server: string; name: string }): CofferError {
  const fp = `${blobType(key)} key ${fingerprint(key)}`;
  // Through the alias, ssh applies the same config (and records the key under the real host).
  const ssh = `ssh${o.port === 22 ? "" : ` -p ${o.port}`} ${o.user}@${o.alias?.name ?? o.host}`;
  const data = { server: o.server, fingerprint: fingerprint(key), permanent: true, hostKey: v.status };
  switch (v.status) {
    case "unknown":
      return new CofferError("BACKEND", `The SSH server ${o.server} is not listed in ${o.knownHostsShown}, so coffer cannot tell that it is the right server (it presents the ${fp}); connect once with "${ssh}" to check and accept its key, then run coffer again.`, data);
    case "changed":
      return new CofferError(
        "BACKEND",
        `The host key of ${o.server} has changed (it presents the ${fp}, but ${v.entry.file} line ${v.entry.line} lists another): someone may be intercepting the connection, or the server was reinstalled; if you know it was, remove the old key with "ssh-keygen -R '${o.name}'" and connect once with "${ssh}" to accept the new one.`,
        data,
      );
    case "other-types":
      return new CofferError("BACKEND", `The SSH server ${o.server} presents the ${fp}, but ${v.entry.file} line ${v.entry.line} lists only ${v.types.join(", ")} keys for it; connect once with "${ssh}" to check and accept the new key.`, data);
    case "revoked":
      return new CofferError("BACKEND", `The host key of ${o.server} (${fingerprint(key)}) is marked @revoked in ${v.entry.file} line ${v.entry.line}; coffer will not connect to it.`, data);
    case "known":
      throw new Error("unreachable: a known key is not an error");
  }
}
