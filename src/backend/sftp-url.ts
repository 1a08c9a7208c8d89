import { homedir, userInfo } from "node:os";
import { join, posix } from "node:path";
import { CofferError } from "../core/errors.js";

/** Where an SFTP repository lives. */
export interface SftpLocation {
  /** The login name; undefined when the URL names none (then the local user's name is used). */
  user?: string;
  /** A host name or an IP address (IPv6 without brackets). */
  host: string;
  /** Undefined when the URL names none (then COFFER_SFTP_PORT, or 22). */
  port?: number;
  /** The repository directory: absolute, or relative to the login directory; no trailing "/". */
  path: string;
}

/** Settings from the environment (docs/backends.md lists them). */
export interface SftpEnvOptions {
  /** The login name when the URL names none: COFFER_SFTP_USER, else the local user's. */
  defaultUser: string;
  /** COFFER_SFTP_PORT: the port when the URL names none (default 22). */
  defaultPort?: number;
  /** Private key files to try, in order (COFFER_SFTP_KEY: only that one). */
  identityFiles: string[];
  /** Whether `identityFiles` came from COFFER_SFTP_KEY (then the agent is not asked). */
  explicitKey: boolean;
  /** SSH_AUTH_SOCK, unless COFFER_SFTP_KEY names a key. */
  agent?: string;
  /** known_hosts files, in order (COFFER_SFTP_KNOWN_HOSTS: only that one). */
  knownHostsFiles: string[];
  connections?: number;
  timeoutMs?: number;
}

const FORMS = "sftp:[USER@]HOST:/PATH or sftp://[USER@]HOST[:PORT]//PATH";

/**
 * Parses the scp-like `sftp:[USER@]HOST:PATH` (an IPv6 address in brackets) and restic's URL
 * form `sftp://[USER@]HOST[:PORT]/PATH`, where, as in restic, the first "/" after the host only
 * separates it from the path: `//srv/repo` is the absolute `/srv/repo`, `/repo` is `repo` in the
 * login directory. A leading `~/` also means the login directory. Passwords are refused: coffer
 * logs in with keys only.
 */
export function parseSftpUrl(url: string): SftpLocation {
  if (!url.startsWith("sftp:")) throw usage(url, "it does not start with sftp:");
  if (url.startsWith("sftp://")) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw usage(url, "it is not a valid URL");
    }
    if (u.password) {
      throw new CofferError("USAGE", `Passwords do not belong in the repository URL ${JSON.stringify(redact(url))}; coffer logs in with SSH keys (the agent, ~/.ssh, or COFFER_SFTP_KEY).`, { url: redact(url) });
    }
    if (u.search || u.hash) throw usage(url, "it has a query or fragment");
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const path = decode(url, u.pathname).slice(1);
    return checked(url, { ...(u.username ? { user: decode(url, u.username) } : {}), host, ...(u.port ? { port: Number(u.port) } : {}), path });
  }
  const m = /^sftp:(?:([^@/:]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@/:[\]]+):(.*)$/.exec(url);
  if (!m) throw usage(url, "it names no host and path");
  const [, user, host = "", path = ""] = m;
  return checked(url, { ...(user ? { user } : {}), host: host.replace(/^\[(.*)\]$/, "$1"), path });
}

/** The location as coffer prints it: scp-like for port 22, else restic's URL form. */
export function formatSftpLocation(loc: SftpLocation): string {
  const user = loc.user !== undefined ? `${loc.user}@` : "";
  const host = loc.host.includes(":") ? `[${loc.host}]` : loc.host;
  return loc.port === undefined || loc.port === 22 ? `sftp:${user}${host}:${loc.path}` : `sftp://${user}${host}:${loc.port}/${loc.path}`;
}

/**
 * COFFER_SFTP_KEY (a private key file, used instead of the agent and ~/.ssh),
 * COFFER_SFTP_KNOWN_HOSTS (a known_hosts file, used instead of ~/.ssh/known_hosts and
 * /etc/ssh/ssh_known_hosts), COFFER_SFTP_PORT (the port when the URL names none),
 * COFFER_SFTP_CONNECTIONS, COFFER_SFTP_TIMEOUT (seconds), SSH_AUTH_SOCK, HOME. Invalid values
 * are USAGE errors.
 */
export function sftpOptionsFromEnv(env: Record<string, string | undefined>): SftpEnvOptions {
  const home = env["HOME"] || homedir();
  const ssh = join(home, ".ssh");
  const key = env["COFFER_SFTP_KEY"];
  const known = env["COFFER_SFTP_KNOWN_HOSTS"];
  const agent = env["SSH_AUTH_SOCK"];
  const out: SftpEnvOptions = {
    defaultUser: env["COFFER_SFTP_USER"] || localUser(env),
    identityFiles: key ? [expandHome(key, home)] : ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => join(ssh, n)),
    explicitKey: !!key,
    ...(agent && !key ? { agent } : {}),
    knownHostsFiles: known ? [expandHome(known, home)] : [join(ssh, "known_hosts"), "/etc/ssh/ssh_known_hosts"],
  };
  const port = env["COFFER_SFTP_PORT"];
  if (port) out.defaultPort = portNumber(port, () => badEnv("COFFER_SFTP_PORT", port, "a port number from 1 to 65535"));
  const conns = env["COFFER_SFTP_CONNECTIONS"];
  if (conns) {
    const n = Number(conns);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw badEnv("COFFER_SFTP_CONNECTIONS", conns, "a whole number from 1 to 64");
    out.connections = n;
  }
  const timeout = env["COFFER_SFTP_TIMEOUT"];
  if (timeout) {
    const s = Number(timeout);
    if (!Number.isFinite(s) || s <= 0) throw badEnv("COFFER_SFTP_TIMEOUT", timeout, "a number of seconds above 0");
    out.timeoutMs = Math.round(s * 1000);
  }
  return out;
}

function checked(url: string, loc: SftpLocation): SftpLocation {
  if (loc.host === "") throw usage(url, "it names no host");
  if (loc.port !== undefined) loc.port = portNumber(String(loc.port), () => usage(url, "its port is not a number from 1 to 65535"));
  const raw = loc.path.replace(/^~(\/|$)/, "");
  if (raw === "" || raw === "~") throw usage(url, "it names no path");
  if (raw.split("/").includes("..")) throw usage(url, 'its path holds ".."');
  let path = posix.normalize(raw);
  if (path.length > 1) path = path.replace(/\/+$/, "");
  return { ...loc, path };
}

function portNumber(s: string, fail: () => CofferError): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw fail();
  return n;
}

function decode(url: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw usage(url, "it holds an invalid %-escape");
  }
}

/** The local login name (`%u` in ~/.ssh/config, and the default login name). */
export function localUser(env: Record<string, string | undefined>): string {
  try {
    return userInfo().username;
  } catch {
    return env["USER"] || env["LOGNAME"] || "root";
  }
}

function expandHome(p: string, home: string): string {
  return p === "~" ? home : p.startsWith("~/") ? join(home, p.slice(2)) : p;
}

function usage(url: string, why: string): CofferError {
  return new CofferError("USAGE", `The repository URL ${JSON.stringify(redact(url))} is not a valid SFTP location (${why}); write ${FORMS}.`, { url: redact(url) });
}

function badEnv(name: string, value: string, want: string): CofferError {
  return new CofferError("USAGE", `${name}=${JSON.stringify(value)} is not valid; set it to ${want}.`, { [name]: value });
}

/** Hides a password written into a URL, so no message repeats it. */
function redact(url: string): string {
  return url.replace(/(\/\/[^/@:]*:)[^/@]*@/, "$1***@");
}
