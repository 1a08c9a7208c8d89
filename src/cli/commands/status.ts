import { gatherFacts } from "../../daemon/gather-facts.js";
import { evaluateHealth, formatAge } from "../../daemon/health.js";
import { buildStatus, type JobStatus, type StatusDocument } from "../../daemon/status.js";
import { maskUrl } from "../../config/mask.js";
import { defineCommand } from "../command.js";
import { loadCliConfig } from "../config-file.js";
import type { Context } from "../context.js";
import { formatBytes, formatLocalTime, renderTable } from "../format.js";
import { paint, printJson, printLine, printWarning } from "../output.js";

export const statusCommand = defineCommand({
  name: "status",
  summary: "show jobs, repositories and sources at a glance",
  description:
    "Show, for the configuration: each job with its schedule, last success and its age, next run, last error and bytes added; " +
    "each repository with its snapshots, size and locks; each source with its newest snapshot in each repository; and whether " +
    "the daemon runs. The facts come from the daemon's state and from the repositories themselves (read, never locked). " +
    "'coffer health' judges the same facts.",
  examples: ["coffer status", "coffer status --json | jq '.jobs[] | {name, lastSuccess, nextRun}'", "coffer --config /etc/coffer/app.yaml status"],
  async run(ctx) {
    const config = await loadCliConfig(ctx);
    const now = ctx.clock();
    const facts = await gatherFacts({ config, env: ctx.env, now, signal: ctx.signal });
    for (const w of facts.warnings) printWarning(ctx, w);
    const doc = buildStatus({
      now,
      ...(config.file !== undefined ? { config: config.file } : {}),
      jobs: Object.values(config.jobs),
      repositories: Object.values(config.repositories).map((r) => ({ ...r, url: maskUrl(r.url) })),
      sources: Object.keys(config.sources),
      state: facts.state,
      reports: facts.repositories,
      daemon: {
        running: facts.daemon?.running === true,
        ...(facts.daemonInfo && facts.daemon?.running ? { pid: facts.daemonInfo.pid, startedAt: facts.daemonInfo.startedAt, ...(facts.daemonInfo.http ? { http: facts.daemonInfo.http } : {}) } : {}),
        stateDir: facts.paths.dir,
      },
      health: evaluateHealth(facts),
    });
    if (ctx.options.json) return printJson(ctx, doc);
    printStatus(ctx, doc, now);
  },
});

function printStatus(ctx: Context, doc: StatusDocument, now: Date): void {
  const c = ctx.color.stdout;
  const ago = (iso: string | undefined): string => (iso === undefined ? "never" : `${formatAge(now.getTime() - Date.parse(iso))} ago`);
  const when = (iso: string | null | undefined): string => (iso === undefined ? "-" : iso === null ? "none" : formatLocalTime(new Date(iso)));
  const d = doc.daemon;
  printLine(ctx, `${doc.config ?? "configuration"}`);
  printLine(ctx, d.running ? `daemon: ${paint(c, "green", "running")} (pid ${d.pid ?? "?"}${d.http ? `, ${d.http}` : ""})` : `daemon: ${paint(c, "red", "not running")} (start it with coffer daemon, or coffer service install --user)`);
  printLine(ctx);
  if (doc.jobs.length > 0) {
    const healthOf = (j: JobStatus) => doc.health?.checks.find((x) => x.id === `job:${j.name}`)?.status ?? "ok";
    const rows = doc.jobs.map((j) => {
      const h = healthOf(j);
      const state = !j.enabled ? "disabled" : j.running ? "running" : j.consecutiveFailures > 0 ? `failing ×${j.consecutiveFailures}` : j.lastRun ? "ok" : "not run yet";
      const color = !j.enabled ? "dim" : j.consecutiveFailures > 0 || h === "critical" ? "red" : h === "warning" ? "yellow" : j.running ? "blue" : "green";
      return [j.name, j.what, j.schedule, paint(c, color, state), ago(j.lastSuccess), when(j.nextRun), j.bytesAdded !== undefined ? formatBytes(j.bytesAdded) : ""];
    });
    ctx.stdout.write(renderTable([{ header: "Job" }, { header: "What" }, { header: "Schedule" }, { header: "State" }, { header: "Last success" }, { header: "Next run" }, { header: "Added", align: "right" }], rows));
    for (const j of doc.jobs) if (j.lastError !== undefined) printLine(ctx, `  ${paint(c, "red", j.name)}: ${j.lastError}`);
    printLine(ctx);
  }
  if (doc.repositories.length > 0) {
    const rows = doc.repositories.map((r) => {
      const locks = r.locks ?? [];
      const lockText = locks.length === 0 ? "" : locks.map((l) => `${l.exclusive ? "exclusive" : "shared"} pid ${l.pid}${l.stale ? " (stale)" : ""}`).join(", ");
      return [
        r.name,
        `${r.backend}${r.offsite ? ", off-site" : ""}`,
        r.reachable === false ? paint(c, "red", "unreachable") : r.reachable ? paint(c, "green", "ok") : "?",
        r.snapshots !== undefined ? String(r.snapshots) : "",
        r.sizeBytes !== undefined ? formatBytes(r.sizeBytes) : "",
        lockText,
      ];
    });
    ctx.stdout.write(renderTable([{ header: "Repository" }, { header: "Kind" }, { header: "State" }, { header: "Snapshots", align: "right" }, { header: "Size", align: "right" }, { header: "Locks" }], rows));
    for (const r of doc.repositories) if (r.reachable === false) printLine(ctx, `  ${paint(c, "red", r.name)}: ${r.error ?? "?"}`);
    printLine(ctx);
  }
  if (doc.sources.length > 0 && doc.repositories.length > 0) {
    const repos = doc.repositories.map((r) => r.name);
    const rows = doc.sources.map((s) => [s.name, ...repos.map((r) => (s.newest[r] !== undefined ? ago(s.newest[r]) : "-"))]);
    ctx.stdout.write(renderTable([{ header: "Source (newest snapshot)" }, ...repos.map((r) => ({ header: r }))], rows));
    printLine(ctx);
  }
  const h = doc.health;
  if (h !== undefined) {
    const bad = h.checks.filter((x) => x.status !== "ok");
    const color = h.status === "ok" ? "green" : h.status === "warning" ? "yellow" : "red";
    printLine(ctx, `health: ${paint(c, color, h.status)}${bad.length > 0 ? ` (${bad.length} check${bad.length === 1 ? " needs" : "s need"} attention; see coffer health)` : ""}`);
  }
}
