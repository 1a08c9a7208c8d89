import { CofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { type Expiry, projectExpiry } from "../../ops/expiry.js";
import { CalendarBuckets, isEmptyPolicy, parseDuration } from "../../retention/index.js";
import { listSnapshots } from "../../snapshot/snapshot-store.js";
import { defineCommand, integer, InvalidArgumentError } from "../command.js";
import { formatBytes, formatLocalTime, renderTable } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";
import { type PolicyFlags, policyFrom, policyOptions } from "./forget.js";

interface SnapshotsFlags extends SnapshotFilterFlags, PolicyFlags {
  latest?: number;
  pending?: boolean;
  expiry?: boolean;
  expiresWithin?: string;
  assumeEvery?: string;
  includeRevisions?: boolean;
}

export const snapshotsCommand = defineCommand<SnapshotsFlags>({
  name: "snapshots",
  summary: "list snapshots",
  description:
    "List the snapshots in the repository, oldest first, with their kind, label, tags and the size each added. " +
    "--pending lists the pre-change snapshots whose change is still pending.\n\n" +
    "--expiry with the policy options of forget (--keep-daily 7, --max-age 30d, ...) shows when each snapshot is due to be " +
    "forgotten under that policy, as a forget run every day would do it: now, on a date, or never (not within 400 days: " +
    "protected, or kept by the policy). By default no new snapshots are assumed, so keep rules that count snapshots keep " +
    "what they keep now; --assume-every 1d assumes each group gets a new snapshot that often. --expires-within 7d lists only " +
    "the snapshots due within 7 days.",
  examples: [
    "coffer snapshots",
    "coffer snapshots --tag weekly --host web1",
    "coffer snapshots --latest 5 --json",
    "coffer snapshots --pending                                   # pre-change snapshots awaiting verification",
    "coffer snapshots --expiry --keep-daily 7 --keep-weekly 4 --assume-every 1d",
    "coffer snapshots --expiry --max-age 30d --expires-within 7d  # which backups expire within a week",
  ],
  options: [
    ...snapshotFilterOptions,
    { flags: "--latest <n>", description: "only the newest n snapshots", parse: integer },
    { flags: "--pending", description: "only pre-change snapshots whose change is pending" },
    { flags: "--expiry", description: "show when each snapshot is due to be forgotten under the policy given with the options below" },
    { flags: "--expires-within <duration>", description: "with --expiry: only snapshots due to be forgotten within this duration (e.g. 7d)", parse: durationText },
    { flags: "--assume-every <duration>", description: "with --expiry: assume each group gets a new snapshot this often (e.g. 1d)", parse: durationText },
    { flags: "--include-revisions", description: "with --expiry: the policy may remove revision snapshots (as forget --include-revisions)" },
    ...policyOptions,
  ],
  async run(ctx, _args, opts) {
    const policy = policyFrom(opts);
    const expiry = opts.expiry === true || opts.expiresWithin !== undefined;
    if (expiry && isEmptyPolicy(policy)) throw new CofferError("USAGE", "--expiry needs a policy: keep rules (e.g. --keep-daily 7) or limits (e.g. --max-age 30d); see coffer snapshots --help.");
    if (!expiry && (!isEmptyPolicy(policy) || opts.assumeEvery !== undefined || opts.includeRevisions)) {
      throw new CofferError("USAGE", "Policy options only apply with --expiry; add --expiry to see when snapshots expire under that policy.");
    }
    const repo = await openRepo(ctx);
    try {
      let list = await listSnapshots(repo, snapshotFilterFrom(opts));
      const now = ctx.clock();
      const calendar = new CalendarBuckets(policy.timeZone);
      let expiries: Map<string, Expiry> | undefined;
      if (expiry) {
        // The policy sees every snapshot the filters select (as forget would), whatever is shown.
        const projected = projectExpiry(list, {
          policy,
          now,
          ...(opts.groupBy ? { groupBy: opts.groupBy } : {}),
          includeRevisions: opts.includeRevisions === true,
          ...(opts.assumeEvery !== undefined ? { assumeEvery: opts.assumeEvery } : {}),
        });
        expiries = new Map(projected.map((e) => [e.snapshot.id, e]));
        if (opts.expiresWithin !== undefined) {
          const until = calendar.add(now, parseDuration(opts.expiresWithin));
          list = list.filter((s) => {
            const at = expiries?.get(s.id)?.expires;
            return at !== undefined && at <= until;
          });
        }
      }
      if (opts.pending) list = list.filter((s) => s.kind === "pre-change" && (s.change?.status ?? "pending") === "pending");
      if (opts.latest !== undefined) list = list.slice(Math.max(0, list.length - opts.latest));
      const expiresText = (id: string): string => {
        const e = expiries?.get(id);
        return !e ? "" : e.now ? "now" : e.expires ? calendar.label("daily", e.expires) : "never";
      };
      if (ctx.options.json) {
        printJson(
          ctx,
          list.map((s) => {
            const e = expiries?.get(s.id);
            return { ...s, short_id: shortId(s.id), ...(e ? { expires: e.now ? "now" : (e.expires?.toISOString() ?? null), expires_reasons: e.reasons } : {}) };
          }),
        );
        return;
      }
      if (list.length === 0) {
        printLine(ctx, "no snapshots");
        return;
      }
      const rows = list.map((s) => [
        shortId(s.id),
        formatLocalTime(new Date(s.time)),
        s.hostname,
        s.kind + (s.change ? `:${s.change.status}` : ""),
        s.label ?? "",
        s.tags.join(","),
        s.summary ? formatBytes(s.summary.bytes_added) : "",
        s.paths.join(" "),
        ...(expiries ? [expiresText(s.id), (expiries.get(s.id)?.reasons ?? []).join(", ")] : []),
      ]);
      ctx.stdout.write(
        renderTable(
          [
            { header: "ID" },
            { header: "Time" },
            { header: "Host" },
            { header: "Kind" },
            { header: "Label" },
            { header: "Tags" },
            { header: "Added", align: "right" },
            { header: "Paths" },
            ...(expiries ? [{ header: "Expires" }, { header: "Why" }] : []),
          ],
          rows,
        ),
      );
      printLine(ctx, `${list.length} snapshot${list.length === 1 ? "" : "s"}`);
      if (expiries && opts.assumeEvery === undefined) printLine(ctx, "(expiry assumes no new snapshots; see --assume-every)");
    } finally {
      await repo.close();
    }
  },
});

function durationText(value: string): string {
  try {
    return parseDuration(value).text;
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}
