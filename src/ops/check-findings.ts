import { CofferError } from "../core/errors.js";

/** Whether an error is a finding about stored data, not a failure to run the check. */
export function isDamage(err: unknown): boolean {
  return !(err instanceof CofferError) || err.code === "CORRUPT" || err.code === "UNSUPPORTED" || err.code === "NOT_FOUND";
}

/** An error's message as part of a finding's sentence (no final period). */
export function findingText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\.$/, "");
}

/** A message as a sentence of its own: capitalized, without the final period (the caller adds it). */
export function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, "");
}
