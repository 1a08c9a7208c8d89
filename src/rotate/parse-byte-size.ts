import { CofferError } from "../core/errors.js";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size in bytes from a number or text: `5242880`, `5M`, `5MB`, `5MiB`, `100k`, `1.5G` (binary
 * units, as logrotate and restic read them). `what` names the setting in the error.
 */
export function parseByteSize(value: number | string, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  } else {
    const m = /^\s*\+?(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
    if (m) return Math.round(Number(m[1]) * (UNITS[(m[2] ?? "").toLowerCase()] ?? 1));
  }
  throw new CofferError("INVALID", `${what} "${String(value)}" is not a size; use a number of bytes or one with a k, M or G suffix, e.g. 5M.`, { what, value });
}

/** `5.0 MiB`, `812 B`: sizes in reasons. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
