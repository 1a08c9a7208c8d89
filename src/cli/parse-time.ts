import { InvalidArgumentError } from "./command.js";

/** An ISO 8601 time for `--time` options (recording history, importing). */
export function parseTime(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`"${value}" is not a time; use ISO 8601 such as 2026-01-31T02:00:00Z.`);
  return d;
}
