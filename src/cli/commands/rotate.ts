import { homedir } from "node:os";
import { join, relative } from "node:path";
import { CofferError } from "../../core/errors.js";
import { readLogrotateConfig } from "../../rotate/logrotate-config.js";
import type { RotateAction } from "../../rotate/rotate-action.js";
import { rotate } from "../../rotate/rotate-files.js";
import type { Warning } from "../../core/warning.js";
import type { RotateRule } from "../../rotate/rule.js";
import { collect, defineCommand, InvalidArgumentError } from "../command.js";
import { cliConfigFile, loadCliConfig } from "../config-file.js";
import type { Env } from "../context.js";
import { printJson, printLine, printVerbose, printWarning } from "../output.js";

interface RotateFlags {
  fromLogrotate?: string[];
  dryRun?: boolean;
  force?: boolean;
  state?: string;
  lockWait?: number;
}

const DONE: Partial<Record<RotateAction["kind"], [string, string]>> = {
  rotate: ["rotated", "would rotate"],
  shift: ["shifted", "would shift"],
  create: ["created", "would create"],
  truncate: ["truncated", "would truncate"],
  move: ["archived", "would archive"],
  compress: ["compressed", "would compress"],
  delete: ["deleted", "would delete"],
  script: ["ran post-rotate for", "would run post-rotate for"],
  signal: ["signalled for", "would signal for"],
  skip: ["left", "would leave"],
};

export const rotateCommand = defineCommand<RotateFlags>({
  name: "rotate",
  summary: "rotate, compress, archive and expire log files",
  description:
    "Apply log rotation rules: rotate each log that is due (by size or by calendar interval, unless under min-size or " +
    "younger than min-age), then compress, archive and delete its old copies as the rules say. Rules come from the " +
    "rotate section of coffer.yaml (./coffer.yaml, $XDG_CONFIG_HOME/coffer/coffer.yaml, or the file --config names; a JSON " +
    'file {"rotate": [...]} reads the same) or from a logrotate configuration, which is applied as logrotate ' +
    "would (unsupported directives are named in warnings). A state file remembers the last rotations; a lock next to " +
    "it keeps two rotators apart: a second one waits up to --lock-wait seconds, then exits with code 11.",
  examples: [
    "coffer rotate                                     # the rotate rules of ./coffer.yaml",
    "coffer --config /etc/coffer/app.yaml rotate --dry-run   # show what would be done, and why",
    "coffer rotate --from-logrotate /etc/logrotate.d/nginx --force",
    "coffer rotate --from-logrotate app.conf --state /var/lib/coffer/rotate.json --json",
  ],
  options: [
    { flags: "--from-logrotate <file>", description: "read rules from a logrotate configuration (repeatable)", parse: collect, default: [] },
    { flags: "-n, --dry-run", description: "show what would be done, change nothing" },
    { flags: "-f, --force", description: "rotate every log now, whatever its triggers say (empty ones only with if-empty)" },
    { flags: "--state <file>", description: "state file (default $XDG_STATE_HOME/coffer/rotate-state.json)" },
    { flags: "--lock-wait <seconds>", description: "how long to wait for another rotation", default: 10, parse: seconds },
  ],
  async run(ctx, _args, opts) {
    const fromLogrotate = opts.fromLogrotate ?? [];
    // A configuration found by looking (not named) counts only when no logrotate file is given.
    const configFile = ctx.options.config !== undefined || fromLogrotate.length === 0 ? cliConfigFile(ctx) : undefined;
    if (configFile === undefined && fromLogrotate.length === 0) {
      throw new CofferError("USAGE", "Name the rules: a coffer.yaml with a rotate section (here, in $XDG_CONFIG_HOME/coffer/, or --config FILE), or --from-logrotate FILE.");
    }
    const rules: RotateRule[] = [];
    const warn = (w: Warning): void => printWarning(ctx, w.path !== undefined && !w.message.includes(w.path) ? `${w.path}: ${w.message}` : w.message);
    if (configFile !== undefined) {
      const config = await loadCliConfig(ctx);
      if (config.rotate.length === 0 && fromLogrotate.length === 0) {
        throw new CofferError("USAGE", `${configFile} has no rotate rules; add a rotate section (rotate: {logs: {files: [logs/*.log]}}) or use --from-logrotate FILE.`);
      }
      rules.push(...config.rotate);
    }
    for (const file of fromLogrotate) {
      const conv = await readLogrotateConfig(file);
      for (const w of conv.warnings) warn(w);
      rules.push(...conv.rules);
    }
    const progress = ctx.progress();
    const result = await rotate(rules, {
      now: ctx.clock(),
      dryRun: opts.dryRun === true,
      force: opts.force === true,
      stateFile: opts.state ?? defaultStateFile(ctx.env),
      lockTimeoutMs: (opts.lockWait ?? 10) * 1000,
      onWarning: warn,
      progress,
      signal: ctx.signal,
    });
    if (ctx.options.json) printJson(ctx, result);
    else {
      const cwd = process.cwd();
      const show = (p: string): string => (p.startsWith(cwd + "/") ? relative(cwd, p) : p);
      for (const a of result.actions) {
        const why = a.reasons.length > 0 ? ` (${a.reasons.join("; ")})` : "";
        if (a.kind === "skip" && a.status !== "failed") {
          printVerbose(ctx, `left ${show(a.path)}${why}`);
          continue;
        }
        const verb = DONE[a.kind]?.[result.dryRun ? 1 : 0] ?? a.kind;
        const line = `${verb} ${show(a.path)}${a.to ? ` -> ${show(a.to)}` : ""}${why}`;
        printLine(ctx, a.status === "failed" ? `FAILED: ${line}` : line);
      }
      const count = (k: RotateAction["kind"]): number => result.actions.filter((a) => a.kind === k && a.status !== "failed").length;
      printLine(
        ctx,
        `${result.dryRun ? "dry run: " : ""}${result.rotated.length} of ${result.files} log${result.files === 1 ? "" : "s"} ${result.dryRun ? "would be " : ""}rotated, ` +
          `${count("compress")} compressed, ${count("move")} archived, ${count("delete")} deleted` +
          (result.failed > 0 ? `, ${result.failed} failed` : ""),
      );
    }
    if (result.failed > 0) {
      throw new CofferError("IO", `${result.failed} rotation action${result.failed === 1 ? "" : "s"} failed; see the warnings above. Nothing was lost: what failed was left as it was.`, { failed: result.failed });
    }
  },
});

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("Give a number of seconds, e.g. 30.");
  return n;
}

/** `$XDG_STATE_HOME/coffer/rotate-state.json`, where the daemon keeps its state too. */
function defaultStateFile(env: Env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && xdg.startsWith("/") ? xdg : join(env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir(), ".local/state");
  return join(base, "coffer", "rotate-state.json");
}
