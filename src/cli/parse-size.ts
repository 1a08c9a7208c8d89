import { InvalidArgumentError } from "./command.js";

/** "500", "10k", "1.5M", "2G", "1T" (binary units, as restic) into bytes. */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size; use a number with an optional K, M, G or T suffix, e.g. 10M.`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? "").toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}
