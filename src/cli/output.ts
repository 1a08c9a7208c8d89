/**
 * How commands print. stdout gets the result only: `printLine` for text (silent under --json)
 * or `printJson` for the one JSON document. Everything else goes to stderr: `printInfo`
 * (silenced by --quiet and --json), `printVerbose` (shown with -v), and `printWarning`
 * (always shown, as `warning: ...`). Errors are printed by main, never by commands.
 */
import type { Warning, WarningSink } from "../core/warning.js";
import type { Context } from "./context.js";

/** The command's result as one JSON document (one line) on stdout. Call it once. */
export function printJson(ctx: Context, value: unknown): void {
  ctx.stdout.write(JSON.stringify(value) + "\n");
}

/** A line of the command's text result on stdout; nothing under --json. */
export function printLine(ctx: Context, text = ""): void {
  if (ctx.options.json) return;
  ctx.stdout.write(text + "\n");
}

/** A status message for a person ("repository 1a2b3c4d opened"); quiet with --quiet or --json. */
export function printInfo(ctx: Context, text: string): void {
  if (ctx.options.quiet || ctx.options.json) return;
  ctx.stderr.write(text + "\n");
}

/** Detail shown with -v (level 1) or -vv (level 2). */
export function printVerbose(ctx: Context, text: string, level = 1): void {
  if (ctx.options.verbose < level || ctx.options.json) return;
  ctx.stderr.write(text + "\n");
}

/** A recoverable problem: always printed, --quiet and --json included. */
export function printWarning(ctx: Context, warning: Warning | string): void {
  const text = typeof warning === "string" ? warning : warningText(warning);
  ctx.stderr.write(`${paint(ctx.color.stderr, "yellow", "warning:")} ${text}\n`);
}

/** A `WarningSink` for operations that prints each warning and counts them. */
export function warningPrinter(ctx: Context): WarningSink & { readonly count: number } {
  let count = 0;
  const sink = (w: Warning): void => {
    count++;
    printWarning(ctx, w);
  };
  return Object.defineProperty(sink, "count", { get: () => count }) as WarningSink & { readonly count: number };
}

/** A --json result's `warnings`: the operation's own, then those the run gave `ctx.warn` (backend retries). */
export function jsonWarnings(ctx: Context, own: readonly Warning[]): Warning[] {
  return [...own, ...ctx.warnings.filter((w) => !own.includes(w))];
}

function warningText(w: Warning): string {
  return w.path !== undefined && !w.message.includes(w.path) ? `${w.path}: ${w.message}` : w.message;
}

const COLORS = { red: 31, green: 32, yellow: 33, blue: 34, bold: 1, dim: 2 } as const;

/** Wraps `text` in an ANSI colour when `enabled` (pass `ctx.color.stdout` or `ctx.color.stderr`). */
export function paint(enabled: boolean, color: keyof typeof COLORS, text: string): string {
  return enabled ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
}
