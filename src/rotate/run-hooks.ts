import { spawn } from "node:child_process";
import { CofferError, sysCode } from "../core/errors.js";
import type { RotateFs } from "./rotate-fs.js";

/**
 * Runs a post-rotate script with /bin/sh as logrotate does: `$1` is the log (or, shared, the
 * rule's patterns), `$2` the rotated copy. Resolves with the exit status and what it wrote to
 * stderr; never throws for a failing script (the caller reports it).
 */
export function runScript(script: string, args: string[], signal?: AbortSignal): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script, "coffer-rotate", ...args], { stdio: ["ignore", "inherit", "pipe"], ...(signal ? { signal } : {}) });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      process.stderr.write(s);
      if (stderr.length < 4096) stderr += s;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr: stderr.trim() }));
  });
}

/** Sends `sig` to the process whose pid `pidFile` holds; returns the pid. */
export async function signalPidFile(fs: RotateFs, pidFile: string, sig: NodeJS.Signals): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(pidFile, "utf8");
  } catch (err) {
    throw new CofferError("NOT_FOUND", `Cannot read the pid file ${pidFile} (${sysCode(err) ?? String(err)}); is the writer running?`, { pidFile });
  }
  const pid = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new CofferError("INVALID", `The pid file ${pidFile} does not hold a process id.`, { pidFile });
  try {
    process.kill(pid, sig);
  } catch (err) {
    throw new CofferError("NOT_FOUND", `Cannot send ${sig} to process ${pid} from ${pidFile} (${sysCode(err) ?? String(err)}).`, { pidFile, pid });
  }
  return pid;
}
