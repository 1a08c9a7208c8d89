import { gatherFacts } from "../../daemon/gather-facts.js";
import { evaluateHealth, type HealthStatus } from "../../daemon/health.js";
import { defineCommand } from "../command.js";
import { loadCliConfig } from "../config-file.js";
import { paint, printJson, printLine, printWarning } from "../output.js";

const EXIT: Record<HealthStatus, number> = { ok: 0, warning: 1, critical: 2 };
const MARK: Record<HealthStatus, string> = { ok: "ok", warning: "WARN", critical: "CRIT" };
const COLOR = { ok: "green", warning: "yellow", critical: "red" } as const;

export const healthCommand = defineCommand({
  name: "health",
  summary: "check backups, repositories, disk space and the daemon; exit 0 ok, 1 warning, 2 critical",
  description:
    "Check what the configuration promises: each job's last success against its schedule (late: 1.5 times the interval, " +
    "critical: 3 times; health.late-factor and critical-factor), the last check of each repository, pre-change snapshots " +
    "pending longer than health.pending-max-age, that every repository opens, free disk space (health.min-free-space), that " +
    "the daemon runs, and with several repositories the 3-2-1 rule (the newest snapshot of each source in two repositories, " +
    "on two kinds of storage, one off-site). Each failing check says what to do. The exit code is for monitors: 0 ok, " +
    "1 warning, 2 critical.",
  examples: ["coffer health", "coffer health --json | jq '.checks[] | select(.status != \"ok\")'", "coffer --config /etc/coffer/app.yaml health || notify-send 'backups need care'"],
  async run(ctx) {
    const config = await loadCliConfig(ctx);
    const facts = await gatherFacts({ config, env: ctx.env, now: ctx.clock(), signal: ctx.signal });
    for (const w of facts.warnings) printWarning(ctx, w);
    const report = evaluateHealth(facts);
    if (ctx.options.json) {
      printJson(ctx, { ...report, config: config.file ?? null });
      return EXIT[report.status];
    }
    const c = ctx.color.stdout;
    for (const check of report.checks) {
      printLine(ctx, `${paint(c, COLOR[check.status], MARK[check.status].padEnd(4))}  ${check.message}`);
      if (check.status !== "ok" && check.fix !== undefined) printLine(ctx, `      ${paint(c, "dim", "→")} ${check.fix}`);
    }
    const bad = report.checks.filter((x) => x.status !== "ok").length;
    printLine(ctx, "");
    printLine(ctx, `${paint(c, COLOR[report.status], report.status === "ok" ? "healthy" : report.status)}: ${report.checks.length} checks, ${bad} need${bad === 1 ? "s" : ""} attention`);
    return EXIT[report.status];
  },
});
