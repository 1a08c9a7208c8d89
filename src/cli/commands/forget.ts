import { CofferError, isCofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { forget, type ForgetGroup, type ForgetResult, GROUP_FIELDS, type GroupField } from "../../ops/forget.js";
import { CalendarBuckets, isEmptyPolicy, parseDuration, type Policy } from "../../retention/index.js";
import { collect, defineCommand, InvalidArgumentError, type OptionSpec } from "../command.js";
import type { Context } from "../context.js";
import { renderTable } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";
import { type PruneFlags, pruneJson, pruneOptions, printPrune, runPrune } from "./prune.js";
import type { PruneResult } from "../../ops/prune.js";

/** The policy flags (shared with `snapshots --expiry`). */
export interface PolicyFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag: string[];
  maxAge?: string;
  maxCount?: number;
  timeZone?: string;
  groupBy?: GroupField[];
}

interface ForgetFlags extends SnapshotFilterFlags, PolicyFlags, PruneFlags {
  prune?: boolean;
  dryRun?: boolean;
  allowEmpty?: boolean;
  includeRevisions?: boolean;
  force?: boolean;
}

const PERIOD = { hourly: "hour", daily: "day", weekly: "week", monthly: "month", yearly: "year" } as const;

/** The policy options: keep rules, limits, time zone, grouping (also offered by `snapshots --expiry`). */
export const policyOptions: OptionSpec[] = [
  ...(["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const).map(
    (k): OptionSpec => ({
      flags: `--keep-${k} <n>`,
      description: k === "last" ? "keep the n newest snapshots (or 'unlimited')" : `keep the newest snapshot of each of the last n ${PERIOD[k]}s that have one (or 'unlimited')`,
      parse: keepCount,
    }),
  ),
  { flags: "--keep-within <duration>", description: "keep snapshots newer than the newest snapshot minus this (e.g. 30d, 2w, 1y6m, 12h)", parse: durationArg },
  ...(["hourly", "daily", "weekly", "monthly", "yearly"] as const).map(
    (k): OptionSpec => ({ flags: `--keep-within-${k} <duration>`, description: `keep the newest snapshot of each ${PERIOD[k]} within this duration of the newest snapshot`, parse: durationArg }),
  ),
  { flags: "--keep-tag <tag[,tag]>", description: "keep snapshots with this tag (a,b: with both; repeatable)", parse: collect, default: [] },
  { flags: "--max-age <duration>", description: "limit: remove snapshots older than this, even if a keep rule keeps them", parse: durationArg },
  { flags: "--max-count <n>", description: "limit: keep at most the n newest unprotected snapshots of each group", parse: nonNegative },
  { flags: "--time-zone <zone>", description: "IANA time zone of the calendar buckets and of the times shown (default: this machine's)", parse: zoneArg },
  { flags: "--group-by <fields>", description: "group by these fields: host, paths, tags, source, comma-separated; '' for one group (default: source, else host,paths)", parse: groupByArg },
];

export const forgetCommand = defineCommand<ForgetFlags>({
  name: "forget",
  summary: "remove snapshots by a retention policy, or by id",
  description:
    "Apply a retention policy to each group of snapshots (by source name, else by host and paths; see --group-by) and remove " +
    "the snapshots it does not keep. A snapshot is kept if any keep rule keeps it (restic's --keep-* rules, in calendar " +
    "buckets of --time-zone); then the limits --max-age and --max-count remove what is too old or too many, whichever is " +
    "stricter. Protected snapshots are always kept: retention overrides (permanent, until a date, for some days, until " +
    "verified), revisions (unless --include-revisions) and pending pre-change snapshots. A policy that would remove every " +
    "snapshot of a group is refused unless --allow-empty; otherwise the newest of each group stays. --keep-within counts " +
    "back from the newest snapshot of the group, --max-age from now. Only snapshot files are removed: the data they " +
    "referenced stays until prune.\n\nWith ids instead of a policy, exactly those snapshots are forgotten (protected " +
    "ones only with --force).",
  examples: [
    "coffer forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run",
    "coffer forget --max-age 30d --max-count 10        # 30 days or 10 snapshots, whichever is stricter",
    "coffer forget --keep-within 30d --kind scheduled   # only scheduled snapshots are considered",
    "coffer forget --keep-last 3 --group-by host --time-zone Europe/Paris --json",
    "coffer forget 1a2b3c4d 5e6f7a8b                    # these two snapshots",
  ],
  arguments: [{ name: "[ids...]", description: "snapshots to forget (ids or unique prefixes) instead of a policy" }],
  options: [
    ...policyOptions,
    ...snapshotFilterOptions,
    { flags: "-n, --dry-run", description: "show what would be removed and why; remove nothing" },
    { flags: "--allow-empty", description: "let the policy remove every snapshot of a group" },
    { flags: "--include-revisions", description: "let the policy remove revision snapshots" },
    { flags: "--force", description: "with ids: forget protected snapshots too" },
    { flags: "--prune", description: "then remove the data no snapshot needs any more (coffer prune; with --dry-run, what it would free)" },
    ...pruneOptions,
  ],
  async run(ctx, ids, opts) {
    const policy = policyFrom(opts);
    if (ids.length > 0 && !isEmptyPolicy(policy)) throw new CofferError("USAGE", "Give either snapshot ids or a policy, not both.");
    if (ids.length === 0 && isEmptyPolicy(policy)) {
      throw new CofferError("USAGE", "Nothing to forget: give snapshot ids, keep rules (e.g. --keep-daily 7) or limits (e.g. --max-age 30d --max-count 10); see coffer forget --help.");
    }
    if (opts.force && ids.length === 0) throw new CofferError("USAGE", "--force applies to snapshot ids only; a policy never removes protected snapshots.");
    const calendar = new CalendarBuckets(opts.timeZone);
    const repo = await openRepo(ctx);
    try {
      let result: ForgetResult;
      try {
        result = await forget(repo, {
          policy,
          filter: snapshotFilterFrom(opts),
          ids,
          dryRun: opts.dryRun === true,
          allowEmpty: opts.allowEmpty === true,
          includeRevisions: opts.includeRevisions === true,
          force: opts.force === true,
          signal: ctx.signal,
          onWarning: warningPrinter(ctx),
          ...(opts.groupBy ? { groupBy: opts.groupBy } : {}),
        });
      } catch (err) {
        // A refused dry run still shows the plan that was refused.
        if (opts.dryRun && isCofferError(err, "INVALID") && err.data.result) print(ctx, err.data.result as ForgetResult, calendar, err.message);
        throw err;
      }
      if (!opts.prune) return print(ctx, result, calendar);
      // Text: what forget did shows before prune starts (prune may fail, e.g. LOCKED). JSON: one document.
      if (!ctx.options.json) print(ctx, result, calendar, undefined, "next");
      // With --dry-run, prune plans as if the forgotten snapshots were gone.
      const pruned = await runPrune(ctx, repo, opts, result.dryRun ? { dryRun: true, ignoreSnapshots: result.removed.map((s) => s.id) } : {});
      if (ctx.options.json) print(ctx, result, calendar, undefined, pruned);
      else {
        printLine(ctx);
        printPrune(ctx, pruned);
      }
    } finally {
      await repo.close();
    }
  },
});

export function policyFrom(o: PolicyFlags): Policy {
  const p: Policy = {};
  if (o.keepLast !== undefined) p.last = o.keepLast;
  if (o.keepHourly !== undefined) p.hourly = o.keepHourly;
  if (o.keepDaily !== undefined) p.daily = o.keepDaily;
  if (o.keepWeekly !== undefined) p.weekly = o.keepWeekly;
  if (o.keepMonthly !== undefined) p.monthly = o.keepMonthly;
  if (o.keepYearly !== undefined) p.yearly = o.keepYearly;
  if (o.keepWithin !== undefined) p.within = o.keepWithin;
  if (o.keepWithinHourly !== undefined) p.withinHourly = o.keepWithinHourly;
  if (o.keepWithinDaily !== undefined) p.withinDaily = o.keepWithinDaily;
  if (o.keepWithinWeekly !== undefined) p.withinWeekly = o.keepWithinWeekly;
  if (o.keepWithinMonthly !== undefined) p.withinMonthly = o.keepWithinMonthly;
  if (o.keepWithinYearly !== undefined) p.withinYearly = o.keepWithinYearly;
  if (o.keepTag.length > 0) p.tags = o.keepTag;
  if (o.maxAge !== undefined) p.maxAge = o.maxAge;
  if (o.maxCount !== undefined) p.maxCount = o.maxCount;
  if (o.timeZone !== undefined) p.timeZone = o.timeZone;
  return p;
}

function print(ctx: Context, r: ForgetResult, calendar: CalendarBuckets, refusal?: string, pruned?: PruneResult | "next"): void {
  if (ctx.options.json) {
    printJson(ctx, {
      dry_run: r.dryRun,
      ...(refusal ? { refused: refusal } : {}),
      groups: r.groups.map((g) => ({
        group: g.fields,
        title: g.title,
        keep: g.decisions.filter((d) => d.keep).length,
        remove: g.decisions.filter((d) => !d.keep).length,
        decisions: g.decisions.map((d) => {
          const s = d.item.snapshot;
          return { id: s.id, short_id: shortId(s.id), time: s.time, hostname: s.hostname, paths: s.paths, kind: s.kind, tags: s.tags, ...(s.label ? { label: s.label } : {}), keep: d.keep, reasons: d.reasons };
        }),
      })),
      kept: r.kept.map((s) => s.id),
      removed: r.removed.map((s) => s.id),
      ...(pruned && pruned !== "next" ? { prune: pruneJson(pruned) } : {}),
    });
    return;
  }
  for (const g of r.groups) printGroup(ctx, g, calendar);
  const total = r.kept.length + r.removed.length;
  const n = `${r.removed.length} of ${total} snapshot${total === 1 ? "" : "s"}`;
  if (refusal) printLine(ctx, `refused: ${refusal}`);
  else if (r.dryRun) printLine(ctx, `would remove ${n} (dry run: nothing was removed)`);
  else printLine(ctx, `removed ${n}${pruned ? "" : `; the data they referenced stays until "coffer prune"`}`);
}

function printGroup(ctx: Context, g: ForgetGroup, calendar: CalendarBuckets): void {
  const keep = g.decisions.filter((d) => d.keep).length;
  printLine(ctx, `${g.title}: keep ${keep}, remove ${g.decisions.length - keep}`);
  const rows = g.decisions.map((d) => {
    const s = d.item.snapshot;
    return [shortId(s.id), calendar.format(new Date(s.time)), s.kind, s.tags.join(","), d.keep ? "keep" : "remove", d.reasons.join(", ")];
  });
  ctx.stdout.write(renderTable([{ header: "ID" }, { header: "Time" }, { header: "Kind" }, { header: "Tags" }, { header: "Action" }, { header: "Reasons" }], rows));
  printLine(ctx);
}

function keepCount(value: string): number {
  const v = value.trim();
  if (v === "unlimited" || v === "all") return -1;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("Give a whole number, or 'unlimited'.");
  return Number.parseInt(v, 10);
}

function nonNegative(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("Give a whole number (0 or more).");
  return Number.parseInt(value, 10);
}

function durationArg(value: string): string {
  try {
    return parseDuration(value).text;
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function zoneArg(value: string): string {
  try {
    return new CalendarBuckets(value).timeZone;
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function groupByArg(value: string): GroupField[] {
  const fields = value.split(",").map((f) => f.trim()).filter((f) => f !== "");
  for (const f of fields) {
    if (!(GROUP_FIELDS as readonly string[]).includes(f)) throw new InvalidArgumentError(`"${f}" is not a group field; use host, paths, tags or source.`);
  }
  return fields as GroupField[];
}
