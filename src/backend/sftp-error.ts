import { CofferError, sysCode } from "../core/errors.js";
import { handlePath, notFoundError, type Handle } from "./backend.js";

/** What an error is about, for its message. */
export interface SftpErrorContext {
  /** The repository URL, as printed. */
  location: string;
  /** `host:port`, as a person knows the server. */
  server: string;
  /** What was being done: `loading`, `saving`, `listing`, ... */
  verb: string;
  handle?: Handle;
  /** The remote path, when no handle names it (a directory). */
  path?: string;
}

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them in `err.code`. */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 } as const;

// Node's codes for a connection that could not be made or broke: a retry may well fix these.
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN", "EPIPE"]);

/** The numeric SFTP status of an ssh2 error, if it is one. */
export function sftpStatus(err: unknown): number | undefined {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : undefined;
}

/**
 * Maps whatever ssh2 (or the network) threw during a request to one CofferError whose message
 * is one sentence saying what to do. A missing file is NOT_FOUND; permission denied carries
 * `sys: "EACCES"` (permanent by `isPermanentError`); others a retry cannot fix carry
 * `data.permanent`. Failures of the connection itself come from `sshConnectError`.
 */
export function sftpError(err: unknown, ctx: SftpErrorContext): CofferError {
  if (err instanceof CofferError) return err;
  const status = sftpStatus(err);
  const target = ctx.handle ? `${handlePath(ctx.handle)} in ${ctx.location}` : ctx.path !== undefined ? `${ctx.path} on ${ctx.server}` : ctx.location;
  const what = `${ctx.verb} ${target}`;
  const msg = firstLine((err as Error | undefined)?.message);
  const data = { server: ctx.server, ...(status !== undefined ? { sftp: status } : {}) };
  if (status === SFTP_STATUS.NO_SUCH_FILE && ctx.handle) return notFoundError(ctx.handle, ctx.location, err);
  if (status === SFTP_STATUS.PERMISSION_DENIED) {
    return new CofferError("BACKEND", `The SFTP server ${ctx.server} denied permission while ${what}; check that the login user may read and write the repository directory there.`, { ...data, sys: "EACCES" }, { cause: err });
  }
  if (status === SFTP_STATUS.OP_UNSUPPORTED || status === SFTP_STATUS.BAD_MESSAGE) {
    return new CofferError("BACKEND", `The SFTP server ${ctx.server} refused ${what} (${msg}).`, { ...data, permanent: true }, { cause: err });
  }
  if (status === SFTP_STATUS.NO_SUCH_FILE) {
    return new CofferError("BACKEND", `${ctx.path ?? "A directory"} does not exist on ${ctx.server} while ${what}.`, { ...data, sys: "ENOENT" }, { cause: err });
  }
  if (status !== undefined) {
    // FAILURE: OpenSSH's sftp-server says no more (a full disk, a lost NFS mount, ...): retried.
    return new CofferError("BACKEND", `The SFTP server ${ctx.server} failed while ${what} (${msg}); check its free space and logs.`, data, { cause: err });
  }
  return new CofferError("BACKEND", `The connection to the SFTP server ${ctx.server} broke while ${what} (${msg}).`, { ...data, ...(sysCode(err) ? { errno: sysCode(err) } : {}) }, { cause: err });
}

/** What `sshConnectError` needs besides the error. */
export interface ConnectErrorContext {
  location: string;
  /** `host:port`. */
  server: string;
  user: string;
  /** The login methods tried (`the SSH agent`, `~/.ssh/id_ed25519`). */
  tried: readonly string[];
  timeoutMs: number;
  /** The SSH config file that gave the host, port or user, when one did. */
  sshConfig?: string;
}

/**
 * A connection that could not be made: the server unreachable (transient: retried), the keys
 * refused (permanent), the SSH handshake failing (permanent), no SFTP on the server (permanent).
 * Host key problems are reported by the verifier itself (see `hostKeyError`).
 */
export function sshConnectError(err: unknown, ctx: ConnectErrorContext): CofferError {
  if (err instanceof CofferError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as { level?: string; message?: string };
  const sys = sysCode(err);
  const msg = firstLine(e.message);
  const permanent = (message: string): CofferError => new CofferError("BACKEND", message, { server: ctx.server, permanent: true, ...(e.level ? { level: e.level } : {}) }, { cause: err });
  if (e.level === "client-authentication") {
    return permanent(
      `The SSH server ${ctx.server} refused the login of ${JSON.stringify(ctx.user)} with ${ctx.tried.join(", ")}; add the public key to ~${ctx.user}/.ssh/authorized_keys on the server, or name the right key with COFFER_SFTP_KEY (and the user in the URL: sftp:USER@HOST:/PATH).`,
    );
  }
  if (/Unable to start subsystem/i.test(msg)) {
    return permanent(`The SSH server ${ctx.server} does not offer SFTP; enable its sftp subsystem ("Subsystem sftp internal-sftp" in sshd_config).`);
  }
  if (e.level === "client-timeout" || sys === "ETIMEDOUT") {
    return new CofferError("BACKEND", `Cannot reach the SSH server ${ctx.server} (it did not complete the SSH handshake within ${ctx.timeoutMs / 1000} s); check the host and port, and the network.`, { server: ctx.server, errno: "ETIMEDOUT" }, { cause: err });
  }
  if (e.level === "client-socket" || e.level === "client-dns" || (sys !== undefined && NETWORK.has(sys))) {
    const why = sys === "ECONNREFUSED" ? "connection refused: nothing listens on that port" : sys === "ENOTFOUND" ? "the host name does not resolve" : (sys ?? msg);
    // Transient for the retry wrapper: sys is kept out of data on purpose.
    return new CofferError("BACKEND", `Cannot reach the SSH server ${ctx.server} (${why}) for ${ctx.location}; check the host and port in the URL${ctx.sshConfig ? ` and ${ctx.sshConfig}` : ""}, and that sshd is running.`, { server: ctx.server, ...(sys ? { errno: sys } : {}) }, { cause: err });
  }
  if (e.level === "handshake" || e.level === "protocol") {
    if (/lost before handshake|connection reset/i.test(msg)) {
      return new CofferError("BACKEND", `The SSH server ${ctx.server} closed the connection before the SSH handshake (${msg}); check that the port is an SSH server's.`, { server: ctx.server }, { cause: err });
    }
    return permanent(`The SSH handshake with ${ctx.server} failed (${msg}); check that the port is an SSH server's and that it accepts current algorithms.`);
  }
  return new CofferError("BACKEND", `The SSH connection to ${ctx.server} failed (${msg}).`, { server: ctx.server }, { cause: err });
}

/** True for the errors marked as ones a retry cannot fix. */
export function isPermanentSftpError(err: unknown): boolean {
  return err instanceof CofferError && err.data["permanent"] === true;
}

function firstLine(msg: string | undefined): string {
  const line = (msg ?? "unknown error").split("\n")[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
