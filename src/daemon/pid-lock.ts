/**
 * One daemon per configuration: `daemon.pid` in the configuration's state folder holds the
 * running daemon's pid, host, start time and HTTP address (JSON). It is created with a hard
 * link (atomic, fails when the file exists), so of two daemons starting together one wins. A
 * file whose process is gone (same host, no such pid) is stale and replaced. `coffer health`
 * and `coffer status` read it to say whether the daemon is alive.
 */
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { writeAtomic } from "./state.js";

export interface DaemonInfo {
  pid: number;
  host: string;
  startedAt: string;
  config?: string;
  /** `http://127.0.0.1:PORT` once the server listens. */
  http?: string;
}

export interface DaemonLock {
  readonly path: string;
  readonly info: DaemonInfo;
  /** Rewrites the file (e.g. with the HTTP address). */
  update(change: Partial<DaemonInfo>): Promise<void>;
  release(): Promise<void>;
}

export async function acquireDaemonLock(path: string, info: DaemonInfo): Promise<DaemonLock> {
  let current = { ...info };
  const text = (): string => JSON.stringify(current) + "\n";
  for (let tries = 0; ; tries++) {
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, text(), { mode: 0o644 });
      try {
        await link(tmp, path);
        break;
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    } catch (err) {
      if (sysCode(err) !== "EEXIST") throw ioError(err, `creating the daemon's pid file ${path}`);
    }
    const holder = await readDaemonInfo(path);
    if (holder !== undefined && daemonAlive(holder)) {
      throw new CofferError(
        "LOCKED",
        `Another coffer daemon (pid ${holder.pid} on ${holder.host}, running since ${holder.startedAt}) is running for ${info.config ?? "this configuration"}; stop it first (systemctl stop, or kill ${holder.pid}), or give this one another configuration.`,
        { pid: holder.pid, host: holder.host, pidFile: path },
      );
    }
    if (tries >= 3) throw new CofferError("LOCKED", `The daemon's pid file ${path} keeps changing; is another daemon starting? Try again.`, { pidFile: path });
    // Stale (or unreadable): take it over.
    await unlink(path).catch(() => undefined);
  }
  return {
    path,
    get info() {
      return current;
    },
    async update(change) {
      current = { ...current, ...change };
      await writeAtomic(path, text(), 0o644);
    },
    async release() {
      const now = await readDaemonInfo(path);
      if (now?.pid === current.pid && now.host === current.host) await unlink(path).catch(() => undefined);
    },
  };
}

/** The pid file's content, or undefined when there is none (or it cannot be read). */
export async function readDaemonInfo(path: string): Promise<DaemonInfo | undefined> {
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as DaemonInfo;
    return typeof v.pid === "number" && typeof v.host === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process the file names still runs (on another host: assumed so). */
export function daemonAlive(info: Pick<DaemonInfo, "pid" | "host">): boolean {
  if (info.host !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (err) {
    return sysCode(err) === "EPERM";
  }
}
