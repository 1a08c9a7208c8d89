import { CofferError, sysCode } from "../core/errors.js";
import type { Warning } from "../core/warning.js";
import { handlePath, typeDir } from "./backend.js";
import type { RetryInfo } from "./retry.js";

/**
 * The warning for a request `RetryBackend` is about to try again, one line such as
 * `s3:https://host/bucket: save data/ab/ab12cd34ef… failed (ECONNRESET); retrying in 4.2 s (attempt 2 of 10)`,
 * so that someone waiting on a server that is down sees why nothing happens.
 */
export function retryWarning(info: RetryInfo, location: string): Warning {
  const target = info.handle ? ` ${shortPath(handlePath(info.handle))}` : info.type !== undefined ? ` ${typeDir(info.type) || info.type}` : "";
  return {
    code: "RETRY",
    message: `${location}: ${info.op}${target} failed (${errorReason(info.error)}); retrying in ${formatDelay(info.delayMs)} (attempt ${info.attempt + 1} of ${info.attempts})`,
  };
}

/** The short reason of a backend error: its system code, HTTP status or S3 code, else its first sentence. */
export function errorReason(err: unknown): string {
  if (err instanceof CofferError) {
    const str = (key: string): string | undefined => (typeof err.data[key] === "string" && err.data[key] !== "" ? err.data[key] : undefined);
    const sys = str("sys") ?? str("errno");
    if (sys !== undefined) return sys;
    const status = typeof err.data["status"] === "number" ? `HTTP ${err.data["status"]}` : undefined;
    const s3 = str("s3");
    if (status !== undefined || s3 !== undefined) return [status, s3].filter((x) => x !== undefined).join(" ");
    return shortMessage(err.message);
  }
  return sysCode(err) ?? shortMessage(err instanceof Error ? err.message : String(err));
}

function shortMessage(msg: string): string {
  const line = (msg.split("\n")[0] ?? "").replace(/\.$/, "");
  return line.length > 120 ? `${line.slice(0, 120)}…` : line || "unknown error";
}

/** A pack or index name cut to 10 hex digits: the whole 64 make the line hard to read. */
function shortPath(path: string): string {
  return path.replace(/([0-9a-f]{10})[0-9a-f]{54}$/, "$1…");
}

function formatDelay(ms: number): string {
  const s = ms / 1000;
  return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}
