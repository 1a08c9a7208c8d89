import { hostname } from "node:os";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { RotateWarningSink } from "./rotate-warning.js";
import type { RotateFs } from "./rotate-fs.js";

export interface LockOptions {
  /** How long to wait for another rotator; then CofferError LOCKED. Default 10 s. */
  timeoutMs?: number;
  pollMs?: number;
  onWarning?: RotateWarningSink;
  signal?: AbortSignal;
}

/**
 * Keeps two rotators apart: `path` is created with O_EXCL holding `pid host time`. A lock whose
 * process is gone (same host, no such pid) is stale and taken over with a warning; a live one
 * is waited for up to `timeoutMs`. Returns the release function.
 */
export async function acquireLock(fs: RotateFs, path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 100;
  const started = Date.now();
  const me = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await fs.open(path, "wx", 0o644);
      try {
        await fh.writeFile(me);
      } finally {
        await fh.close();
      }
      return async () => {
        // Remove it only if it is still ours.
        const text = await fs.readFile(path, "utf8").catch(() => "");
        if (text === me) await fs.unlink(path).catch(() => {});
      };
    } catch (err) {
      if (sysCode(err) !== "EEXIST") throw ioError(err, `creating the rotation lock ${path}`);
    }
    const holder = await readHolder(fs, path);
    if (holder === undefined) continue; // released between our two calls
    if (holder.stale) {
      await fs.unlink(path).catch(() => {});
      opts.onWarning?.({ code: "STALE_LOCK", path, message: `Removed a stale rotation lock ${path} left by process ${holder.pid}, which no longer runs.` });
      continue;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new CofferError(
        "LOCKED",
        `Another rotation (process ${holder.pid} on ${holder.host}) holds the lock ${path}; wait for it to finish, or remove the file if that process is gone.`,
        { lock: path, pid: holder.pid, host: holder.host },
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function readHolder(fs: RotateFs, path: string): Promise<{ pid: number; host: string; stale: boolean } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") return undefined;
    throw ioError(err, `reading the rotation lock ${path}`);
  }
  const [pidText, host = "?"] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) {
    // Half-written by a process that died at once, or not ours: stale once it is a minute old.
    const st = await fs.lstat(path).catch(() => undefined);
    return { pid: 0, host, stale: st !== undefined && Date.now() - st.mtimeMs > 60_000 };
  }
  if (host !== hostname()) return { pid, host, stale: false };
  return { pid, host, stale: !alive(pid) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return sysCode(err) === "EPERM";
  }
}
