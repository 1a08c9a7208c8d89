import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { posix } from "node:path";
import { CofferError } from "../core/errors.js";
import {
  checkHandle,
  FILE_TYPES,
  handlePath,
  isNotFoundError,
  isPermanentError,
  isValidHandle,
  loadRange,
  typeDir,
  type Backend,
  type BackendProperties,
  type FileInfo,
  type FileType,
  type Handle,
  type LoadOptions,
} from "./backend.js";
import { loadKnownHosts } from "./known-hosts.js";
import { sftpIdentities } from "./sftp-auth.js";
import { isPermanentSftpError, SFTP_STATUS, sftpError, sftpStatus } from "./sftp-error.js";
import { SftpSession } from "./sftp-session.js";
import { formatSftpLocation, type SftpEnvOptions, type SftpLocation } from "./sftp-url.js";

export interface SftpOptions extends SftpLocation, Partial<SftpEnvOptions> {
  /** For messages: paths under it are shown as `~/...` (default: none). */
  home?: string;
  /** How long connecting and the SSH handshake may take (default 20 s). */
  connectTimeoutMs?: number;
  /** The host to connect to when the SSH config's HostName differs from `host` (the URL's). */
  hostName?: string;
  /** The SSH config file that gave settings for `host`, as a person names it, for messages. */
  sshConfig?: string;
}

const TEMP_PREFIX = ".tmp-";
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const HEX2 = /^[0-9a-f]{2}$/;
/** Bytes per SFTP read or write request, and requests in flight per file: 2 MiB on the wire. */
const CHUNK = 64 * 1024;
const IN_FLIGHT = 32;

/**
 * A repository in a directory of an SSH server, through its SFTP subsystem (OpenSSH's
 * sftp-server or internal-sftp), laid out like a local one (`handlePath`).
 *
 * One SSH connection with one SFTP channel carries every request; a file moves as 64 KiB
 * requests, 32 in flight, so large packs stream at the link's speed without a second copy.
 * `save` writes a temp file (`.tmp-*`, ignored by `list`) in the destination's directory,
 * fsyncs it (fsync@openssh.com) and renames it into place with posix-rename@openssh.com, which
 * replaces atomically; a reader never sees a partial file. A dropped connection fails the
 * requests in flight with transient errors; the next request connects again (`RetryBackend`
 * retries). The host key is checked against known_hosts before anything is sent: an unknown
 * or changed key is a permanent error, never a prompt.
 */
export class SftpBackend implements Backend {
  readonly location: string;
  readonly properties: BackendProperties;
  readonly #opts: SftpOptions;
  readonly #server: string;
  readonly #user: string;
  readonly #port: number;
  #session: Promise<SftpSession> | undefined;
  #closed = false;

  constructor(opts: SftpOptions) {
    this.#opts = opts;
    this.location = formatSftpLocation(opts);
    this.#port = opts.port ?? opts.defaultPort ?? 22;
    this.#user = opts.user ?? opts.defaultUser ?? userInfo().username;
    const host = opts.hostName ?? opts.host;
    this.#server = `${host.includes(":") ? `[${host}]` : host}:${this.#port}`;
    this.properties = { kind: "sftp", connections: opts.connections ?? 5, atomicReplace: true, remote: true };
  }

  async create(): Promise<void> {
    const s = await this.#connected();
    if ((await this.#size(s, this.#path({ type: "config", name: "" }))) !== undefined) {
      throw new CofferError("REPO_EXISTS", `A repository already exists at ${this.location}.`, { location: this.location });
    }
    const root = this.#opts.path;
    try {
      await this.#mkdirs(s, root);
      for (const type of FILE_TYPES) if (type !== "config") await this.#mkdir(s, posix.join(root, typeDir(type)));
      const subdirs = Array.from({ length: 256 }, (_, i) => posix.join(root, "data", i.toString(16).padStart(2, "0")));
      await inParallel(subdirs.length, IN_FLIGHT, (i) => this.#mkdir(s, subdirs[i] as string));
    } catch (err) {
      throw sftpError(err, { location: this.location, server: this.#server, verb: "creating the repository directories of", path: root });
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    checkHandle(h);
    const s = await this.#connected();
    const path = this.#path(h);
    const dir = posix.dirname(path);
    const temp = posix.join(dir, TEMP_PREFIX + randomBytes(8).toString("hex"));
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let fh: Buffer | undefined;
    try {
      try {
        fh = await s.open(temp, "wx", FILE_MODE);
      } catch (err) {
        if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
        await this.#restoreDir(s, dir);
        fh = await s.open(temp, "wx", FILE_MODE);
      }
      const handle = fh;
      await inParallel(Math.ceil(body.length / CHUNK), IN_FLIGHT, (i) => s.write(handle, body, i * CHUNK, Math.min(CHUNK, body.length - i * CHUNK), i * CHUNK));
      if (s.hasExtension("fsync@openssh.com")) await s.fsync(handle);
      fh = undefined;
      // close() reports a deferred write error on some servers, so it is awaited, not dropped.
      await s.close(handle);
      await this.#rename(s, temp, path);
    } catch (err) {
      if (fh) await s.close(fh).catch(() => undefined);
      await s.unlink(temp).catch(() => undefined);
      throw this.#error(err, "saving", h);
    }
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    checkHandle(h);
    loadRange(h, Number.MAX_SAFE_INTEGER, opts); // INVALID before any request
    const s = await this.#connected();
    let fh: Buffer;
    try {
      fh = await s.open(this.#path(h), "r");
    } catch (err) {
      throw this.#error(err, "loading", h);
    }
    try {
      const { offset, length } = loadRange(h, (await s.fstat(fh)).size, opts);
      const buf = Buffer.allocUnsafe(length);
      await inParallel(Math.ceil(length / CHUNK), IN_FLIGHT, async (i) => {
        const end = Math.min(length, (i + 1) * CHUNK);
        for (let at = i * CHUNK; at < end; ) {
          const n = await s.read(fh, buf, at, end - at, offset + at);
          // The file shrank after fstat: report it as the short file it now is (CORRUPT).
          if (n === 0) loadRange(h, offset + at, opts);
          at += n;
        }
      });
      return buf;
    } catch (err) {
      throw this.#error(err, "loading", h);
    } finally {
      await s.close(fh).catch(() => undefined);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    checkHandle(h);
    const s = await this.#connected();
    try {
      return { name: h.name, size: (await s.stat(this.#path(h))).size };
    } catch (err) {
      throw this.#error(err, "reading the size of", h);
    }
  }

  async *list(type: FileType): AsyncIterable<FileInfo> {
    const s = await this.#connected();
    if (type === "config") {
      const size = await this.#size(s, this.#path({ type, name: "" }));
      if (size !== undefined) yield { name: "", size };
      return;
    }
    const top = posix.join(this.#opts.path, typeDir(type));
    // data/ holds 256 subdirectories named by the first two hex digits of their files' names.
    const dirs = type === "data" ? (await this.#entries(s, top)).filter((e) => HEX2.test(e.filename)).map((e) => e.filename) : [""];
    for (const sub of dirs) {
      for (const e of await this.#entries(s, sub === "" ? top : posix.join(top, sub))) {
        if (!isValidHandle({ type, name: e.filename }) || !e.filename.startsWith(sub) || !isRegular(e.attrs.mode)) continue;
        yield { name: e.filename, size: e.attrs.size };
      }
    }
  }

  async remove(h: Handle): Promise<void> {
    checkHandle(h);
    const s = await this.#connected();
    try {
      await s.unlink(this.#path(h));
    } catch (err) {
      throw this.#error(err, "removing", h);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#session;
    this.#session = undefined;
    if (pending) (await pending.catch(() => undefined))?.end();
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  isPermanent(err: unknown): boolean {
    return isPermanentError(err) || isPermanentSftpError(err);
  }

  #path(h: Handle): string {
    return posix.join(this.#opts.path, handlePath(h));
  }

  #error(err: unknown, verb: string, h?: Handle): CofferError {
    return sftpError(err, { location: this.location, server: this.#server, verb, ...(h ? { handle: h } : {}) });
  }

  /** posix-rename@openssh.com replaces atomically; plain SFTP rename refuses an existing target. */
  async #rename(s: SftpSession, from: string, to: string): Promise<void> {
    if (s.hasExtension("posix-rename@openssh.com")) return s.posixRename(from, to);
    try {
      await s.rename(from, to);
    } catch (err) {
      if (sftpStatus(err) !== SFTP_STATUS.FAILURE || (await this.#size(s, to)) === undefined) throw err;
      // A server without the extension (rare: OpenSSH has had it since 2008): not atomic.
      await s.unlink(to);
      await s.rename(from, to);
    }
  }

  /** A type directory went missing (removed by hand): recreate it, but never the repository. */
  async #restoreDir(s: SftpSession, dir: string): Promise<void> {
    if ((await this.#size(s, this.#path({ type: "config", name: "" }))) === undefined) {
      throw new CofferError("REPO_MISSING", `There is no repository at ${this.location}; create one with "coffer init".`, { location: this.location });
    }
    const parent = posix.dirname(dir);
    if (parent !== this.#opts.path && posix.basename(parent) === "data") await this.#mkdir(s, parent);
    await this.#mkdir(s, dir);
  }

  /** `mkdir -p`. */
  async #mkdirs(s: SftpSession, dir: string): Promise<void> {
    try {
      await this.#mkdir(s, dir);
    } catch (err) {
      const parent = posix.dirname(dir);
      if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE || parent === dir) throw err;
      await this.#mkdirs(s, parent);
      await this.#mkdir(s, dir);
    }
  }

  /** Creates a directory; one that exists already is fine. */
  async #mkdir(s: SftpSession, dir: string): Promise<void> {
    try {
      await s.mkdir(dir, DIR_MODE);
    } catch (err) {
      // SFTP v3 has no "exists" status: OpenSSH answers FAILURE.
      if (sftpStatus(err) !== SFTP_STATUS.FAILURE) throw err;
      const st = await s.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) throw err;
    }
  }

  /** Directory entries; none when the directory does not exist. */
  async #entries(s: SftpSession, dir: string): Promise<{ filename: string; attrs: { size: number; mode: number } }[]> {
    try {
      return await s.readdir(dir);
    } catch (err) {
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return [];
      throw sftpError(err, { location: this.location, server: this.#server, verb: "listing", path: dir });
    }
  }

  /** The size of a file; undefined when it does not exist. */
  async #size(s: SftpSession, path: string): Promise<number | undefined> {
    try {
      return (await s.stat(path)).size;
    } catch (err) {
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
      throw sftpError(err, { location: this.location, server: this.#server, verb: "reading the size of", path });
    }
  }

  /** The live session, connecting (again) when there is none or the last one dropped. */
  async #connected(): Promise<SftpSession> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new CofferError("INVALID", `The SFTP backend for ${this.location} is closed; this is a bug in coffer.`);
      if (!this.#session) {
        const p = this.#connect();
        this.#session = p;
        // A failed connection is tried again on the next request (the retry wrapper's job).
        p.catch(() => {
          if (this.#session === p) this.#session = undefined;
        });
      }
      const p = this.#session;
      const s = await p;
      if (s.alive || attempt > 0) return s;
      if (this.#session === p) this.#session = undefined;
    }
  }

  async #connect(): Promise<SftpSession> {
    const o = this.#opts;
    const ssh2 = (await import("ssh2")).default;
    const home = o.home ?? "";
    const show = (p: string): string => (home && p.startsWith(`${home}/`) ? `~/${p.slice(home.length + 1)}` : p);
    const knownHostsFiles = o.knownHostsFiles ?? [];
    const identities = await sftpIdentities(ssh2, { user: this.#user, ...(o.agent ? { agent: o.agent } : {}), identityFiles: o.identityFiles ?? [], explicitKey: o.explicitKey ?? false, home }, this.location);
    return SftpSession.open(ssh2, {
      host: o.hostName ?? o.host,
      ...(o.sshConfig ? { alias: { name: o.host, file: o.sshConfig } } : {}),
      port: this.#port,
      user: this.#user,
      location: this.location,
      identities,
      knownHosts: await loadKnownHosts(knownHostsFiles),
      knownHostsShown: knownHostsFiles.map(show).join(" or ") || "known_hosts",
      connectTimeoutMs: o.connectTimeoutMs ?? 20_000,
      timeoutMs: o.timeoutMs ?? 60_000,
    });
  }
}

function isRegular(mode: number): boolean {
  return (mode & 0o170000) === 0o100000;
}

/** Runs `fn(0..count-1)` with at most `limit` at once; the first failure wins once all settle. */
async function inParallel(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && !failure) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failure) throw failure.err;
}
