import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { RotateFs } from "./rotate-fs.js";

export interface TakeLockOptions {
  /** How long to wait for the holder; then CofferError LOCKED. Default 10 s. */
  timeoutMs?: number;
  pollMs?: number;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

/** A lock file with no valid holder line (its creator died before writing it) is stale after this. */
const HALF_WRITTEN_STALE_MS = 60_000;
/** A breaker file older than this was left by a process that died while breaking a lock. */
const BREAKER_STALE_MS = 10_000;

/**
 * An exclusive lock file (the rotation lock, and the lock of versioned outputs): created with
 * O_EXCL, holding `PID HOST TIME TOKEN`; a lock whose process is gone (same host) is stale and is
 * taken over with a warning. Returns the release function, which removes the file only if it is
 * still this holder's.
 *
 * Breaking a stale lock is itself guarded: the breaker takes `PATH.break` (O_EXCL), reads the
 * lock again and removes it only if it still holds the very line judged stale. Without that, a
 * process that read a holder's line just before the holder released and exited would delete
 * the lock of the next holder (the holder's pid being gone by then), and two would hold it.
 */
export async function takeLock(fs: RotateFs, path: string, opts: TakeLockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 20;
  const started = Date.now();
  for (;;) {
    opts.signal?.throwIfAborted();
    const me = `${process.pid} ${hostname()} ${new Date().toISOString()} ${randomBytes(6).toString("hex")}\n`;
    if (await createWith(fs, path, me)) {
      return async () => {
        const text = await fs.readFile(path, "utf8").catch(() => "");
        if (text === me) await fs.unlink(path).catch(() => {});
      };
    }
    const holder = await readHolder(fs, path);
    if (holder === undefined) continue; // released between our two calls
    if (holder.stale) {
      if (await breakStale(fs, path, holder.text)) {
        opts.onWarning?.({ code: "STALE_LOCK", path, message: `Removed a stale lock ${path} left by process ${holder.pid}, which no longer runs.` });
      }
      continue;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new CofferError("LOCKED", `The lock ${path} is held by process ${holder.pid} on ${holder.host}; wait for it to finish, or remove the file if that process is gone.`, {
        lock: path,
        pid: holder.pid,
        host: holder.host,
      });
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Creates `path` holding `text`, or returns false when it exists. */
async function createWith(fs: RotateFs, path: string, text: string): Promise<boolean> {
  let fh;
  try {
    fh = await fs.open(path, "wx", 0o644);
  } catch (err) {
    if (sysCode(err) === "EEXIST") return false;
    throw ioError(err, `creating the lock ${path}`);
  }
  try {
    await fh.writeFile(text);
  } catch (err) {
    // A lock without its holder line would block others for a minute: take it back.
    await fh.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
    throw ioError(err, `writing the lock ${path}`);
  }
  await fh.close();
  return true;
}

/** Removes the lock if it still holds `staleText`; true when it is gone. */
async function breakStale(fs: RotateFs, path: string, staleText: string): Promise<boolean> {
  const breaker = `${path}.break`;
  if (!(await createWith(fs, breaker, `${process.pid} ${hostname()} ${new Date().toISOString()}\n`))) {
    const st = await fs.lstat(breaker).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > BREAKER_STALE_MS) await fs.unlink(breaker).catch(() => {});
    else await new Promise((r) => setTimeout(r, 5));
    return false;
  }
  try {
    const now = await fs.readFile(path, "utf8").catch((err: unknown) => (sysCode(err) === "ENOENT" ? undefined : Promise.reject(err)));
    if (now === undefined) return true;
    if (now !== staleText) return false;
    await fs.unlink(path);
    return true;
  } catch (err) {
    throw ioError(err, `removing the stale lock ${path}`);
  } finally {
    await fs.unlink(breaker).catch(() => {});
  }
}

interface Holder {
  pid: number;
  host: string;
  stale: boolean;
  text: string;
}

async function readHolder(fs: RotateFs, path: string): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") return undefined;
    throw ioError(err, `reading the lock ${path}`);
  }
  const [pidText, host = "?"] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) {
    const st = await fs.lstat(path).catch(() => undefined);
    return { pid: 0, host, stale: st !== undefined && Date.now() - st.mtimeMs > HALF_WRITTEN_STALE_MS, text };
  }
  if (host !== hostname()) return { pid, host, stale: false, text };
  return { pid, host, stale: !alive(pid), text };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return sysCode(err) === "EPERM";
  }
}
