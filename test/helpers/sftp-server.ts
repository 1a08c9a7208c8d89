// A real SFTP server for tests: Debian's OpenSSH sshd on a free loopback port, run as the
// current user with its own sshd_config, a throw-away host key and a throw-away user key made
// with ssh-keygen in a temp dir. Outside CI the tests skip (and say why) where sshd is not
// installed; in CI (CI=true) they fail instead, so a broken install cannot pass as a green run.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./s3-server.js";

/** The sshd binary (an absolute path: sshd re-executes itself for every connection). */
export const SSHD = process.env["COFFER_TEST_SSHD"] ?? "/usr/sbin/sshd";

/** Why the SFTP tests cannot run here, or undefined when they can. */
export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install openssh-server)`;
  if (!onPath("ssh-keygen")) return "ssh-keygen is not installed (apt-get install openssh-client)";
  return undefined;
}

/**
 * The `skip` option of the SFTP test suites: the reason outside CI when sshd is missing; never
 * in CI, where `startSftpServer` then fails with that reason.
 */
export function sftpSkip(): string | false {
  const why = sshdMissing();
  return why !== undefined && process.env["CI"] !== "true" ? `SFTP tests skipped: ${why}` : false;
}

export interface SftpServer {
  host: string;
  port: number;
  /** The login name (the current user). */
  user: string;
  /** The temp dir holding keys and config; `root` lies inside it. */
  dir: string;
  /** An absolute directory for repositories. */
  root: string;
  /** The private key sshd accepts. */
  userKey: string;
  /** A known_hosts file listing this server's host key (`[127.0.0.1]:PORT ssh-ed25519 ...`). */
  knownHosts: string;
  /** The host key line of that file. */
  hostKeyLine: string;
  /** Lines for every host key, by type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`). */
  hostKeyLines: Record<string, string>;
  /** COFFER_SFTP_KEY and COFFER_SFTP_KNOWN_HOSTS for this server. */
  env: Record<string, string>;
  /** `sftp://USER@127.0.0.1:PORT//ABS/PATH` for a path under `root`. */
  url(name: string): string;
  /** SIGKILL sshd and every connection process it forked, as a crash or a cut network would. */
  kill(): Promise<void>;
  /** SIGSTOP sshd and its connection processes: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT what `pause` stopped. */
  resume(): void;
  /** Starts sshd again on the same port, with the same keys. */
  start(): Promise<void>;
  /** Kills it and removes the temp dir. */
  stop(): Promise<void>;
}

export interface SftpServerOptions {
  /** internal-sftp -R: every write is refused with "permission denied". */
  readOnly?: boolean;
  /** A second host key (ssh-keygen -t), which `hostKeyLines` lists too. */
  extraHostKey?: "ecdsa" | "rsa";
}

export async function startSftpServer(opts: SftpServerOptions = {}): Promise<SftpServer> {
  const why = sshdMissing();
  if (why !== undefined) throw new Error(`cannot start an SFTP server for the tests: ${why}`);
  // Privilege separation (sshd started as root) needs its empty chroot directory.
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), "coffer-sshd-"));
  const root = join(dir, "repos");
  mkdirSync(root, { mode: 0o700 });
  const keygen = (file: string, comment: string): void => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "ignore" });
  };
  keygen(join(dir, "host_ed25519"), "coffer-test-host");
  const hostKeys = ["host_ed25519"];
  if (opts.extraHostKey) {
    execFileSync("ssh-keygen", ["-q", "-t", opts.extraHostKey, "-N", "", "-C", "coffer-test-host", "-f", join(dir, `host_${opts.extraHostKey}`)], { stdio: "ignore" });
    hostKeys.push(`host_${opts.extraHostKey}`);
  }
  keygen(join(dir, "user_ed25519"), "coffer-test-user");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user_ed25519.pub")));
  const port = await freePort();
  const host = "127.0.0.1";
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      ...hostKeys.map((k) => `HostKey ${join(dir, k)}`),
      "PidFile none",
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "StrictModes no",
      "UsePAM no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "MaxStartups 100",
      "MaxSessions 50",
      "LogLevel INFO",
      `Subsystem sftp internal-sftp${opts.readOnly ? " -R" : ""}`,
      "",
    ].join("\n"),
  );
  execFileSync(SSHD, ["-t", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  const hostKeyLines = Object.fromEntries(
    hostKeys.map((k) => {
      const [type = "", key = ""] = readFileSync(join(dir, `${k}.pub`), "utf8").trim().split(/\s+/);
      return [type, `[${host}]:${port} ${type} ${key}`];
    }),
  );
  const hostKeyLine = hostKeyLines["ssh-ed25519"] as string;
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `${hostKeyLine}\n`);
  const user = userInfo().username;

  let child: ChildProcess | undefined;
  let log = "";
  const server: SftpServer = {
    host,
    port,
    user,
    dir,
    root,
    userKey: join(dir, "user_ed25519"),
    knownHosts,
    hostKeyLine,
    hostKeyLines,
    env: { COFFER_SFTP_KEY: join(dir, "user_ed25519"), COFFER_SFTP_KNOWN_HOSTS: knownHosts },
    url: (name) => `sftp://${user}@${host}:${port}/${join(root, name)}`,
    async start() {
      const c = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
      child = c;
      log = "";
      await new Promise<void>((resolve, reject) => {
        c.stderr?.setEncoding("utf8");
        c.stderr?.on("data", (chunk: string) => {
          if (log.length < 64 * 1024) log += chunk;
          if (/Server listening on/.test(log)) resolve();
        });
        c.on("error", reject);
        c.on("exit", (code, signal) => reject(new Error(`sshd exited (${signal ?? `code ${code}`}) before it listened:\n${log}`)));
      });
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once("exit", r));
      signalAll(c, "SIGKILL");
      await gone;
    },
    pause: () => child && signalAll(child, "SIGSTOP"),
    resume: () => child && signalAll(child, "SIGCONT"),
    async stop() {
      await server.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/**
 * Signals sshd and every process below it. Connections are served by forked sshd processes in
 * sessions of their own (setsid), so a process-group signal would miss them: every descendant
 * is found first, then all are signalled.
 */
function signalAll(c: ChildProcess, signal: NodeJS.Signals): void {
  if (c.pid === undefined) return;
  for (const pid of [c.pid, ...descendants(c.pid)]) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Every process below `pid`, read from /proc (Linux). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(name), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function onPath(bin: string): boolean {
  return (process.env["PATH"] ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, bin)));
}
