import { CofferError } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import type { Repository } from "../repository/repository.js";
import { applyPolicy, CalendarBuckets, checkPolicy, type Decision, isEmptyPolicy, type Policy, type PolicyResult, type RetentionItem } from "../retention/index.js";
import type { Snapshot, SnapshotWithId } from "../snapshot/snapshot.js";
import { currentSnapshots, findSnapshot, listSnapshots, loadAllSnapshots, type SnapshotFilter } from "../snapshot/snapshot-store.js";

/** Snapshot fields that can group snapshots for a policy (restic's `--group-by`). */
export type GroupField = "host" | "paths" | "tags" | "source";
export const GROUP_FIELDS: readonly GroupField[] = ["host", "paths", "tags", "source"];

export interface ForgetOptions {
  /** The retention policy; required unless `ids` are given. `policy.timeZone` also sets the zone of `until` dates. */
  policy?: Policy;
  /** Only these snapshots are considered (the others are neither kept nor removed). */
  filter?: SnapshotFilter;
  /** Default: by source name when a snapshot has one, else by host + paths. `[]`: one group. */
  groupBy?: GroupField[];
  /** Forget exactly these snapshots (ids, unique prefixes or `latest`) instead of applying a policy. */
  ids?: string[];
  /** With `ids`: forget them even when protected. */
  force?: boolean;
  dryRun?: boolean;
  /** Let a policy remove every snapshot of a group (otherwise refused, and the newest of each group is kept). */
  allowEmpty?: boolean;
  /** Let the policy remove `revision` snapshots (protected otherwise). */
  includeRevisions?: boolean;
  now?: Date;
  signal?: AbortSignal;
  onWarning?: WarningSink;
}

/** A snapshot as the policy engine sees it. */
export interface ForgetItem extends RetentionItem {
  snapshot: SnapshotWithId;
}

export interface ForgetGroup {
  /** The grouping fields' values, e.g. `{ host: "web1", paths: ["/srv"] }`. */
  fields: { host?: string; paths?: string[]; tags?: string[]; source?: string };
  /** For people: `host web1, paths /srv`. */
  title: string;
  /** Oldest first. */
  decisions: Decision<ForgetItem>[];
}

export interface ForgetResult {
  dryRun: boolean;
  /** Groups in order of their oldest snapshot. */
  groups: ForgetGroup[];
  kept: SnapshotWithId[];
  /** Removed, or to be removed with `dryRun`. */
  removed: SnapshotWithId[];
}

/**
 * Forgets snapshots: applies a policy to each group of snapshots (or takes the ids given) and
 * removes the snapshot files of those it does not keep; their data stays until prune. Takes an
 * exclusive lock, as restic does, except with `dryRun`, which writes nothing.
 *
 * Refused (CofferError INVALID, nothing removed): a policy that would remove every snapshot of a
 * group, without `allowEmpty` (`data.result` holds that plan, for a dry run to show); ids of
 * protected snapshots, without `force`.
 */
export async function forget(repo: Repository, opts: ForgetOptions): Promise<ForgetResult> {
  const now = opts.now ?? repo.clock();
  const dryRun = opts.dryRun === true;
  const policy = opts.policy ?? {};
  const calendar = new CalendarBuckets(policy.timeZone);
  if (!opts.ids?.length) checkPolicy(policy); // bad values fail before the lock is taken
  if (!opts.ids?.length && isEmptyPolicy(policy)) {
    throw new CofferError("USAGE", "Nothing to forget: give snapshot ids or a policy (keep rules such as keep-daily 7, or limits such as max-age 30d).");
  }
  const lock = dryRun ? undefined : await Lock.acquire(repo, { exclusive: true, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) });
  try {
    const protections = (s: Snapshot) => snapshotProtections(s, { now, includeRevisions: opts.includeRevisions === true, calendar });
    const result = opts.ids?.length
      ? await planIds(repo, opts.ids, opts, protections)
      : planPolicy(await listSnapshots(repo, opts.filter ?? {}), policy, opts, now, protections);
    const forgetResult = toForgetResult(result, dryRun);
    if (!dryRun) {
      // Stale copies an interrupted metadata rewrite left go too, or they would show up again.
      const stale = forgetResult.removed.length > 0 ? currentSnapshots(await loadAllSnapshots(repo)).stale : new Map<string, SnapshotWithId[]>();
      const files = forgetResult.removed.flatMap((s) => [s.id, ...(stale.get(s.id) ?? []).map((x) => x.id)]);
      await mapLimit(files, repo.backend.properties.connections, async (id) => {
        opts.signal?.throwIfAborted();
        try {
          await repo.backend.remove({ type: "snapshot", name: id });
        } catch (err) {
          if (!repo.backend.isNotFound(err)) throw err; // forgotten meanwhile: fine
        }
      });
    }
    return forgetResult;
  } finally {
    await lock?.release();
  }
}

function planPolicy(
  snapshots: SnapshotWithId[],
  policy: Policy,
  opts: ForgetOptions,
  now: Date,
  protections: (s: Snapshot) => string[],
): PolicyResult<ForgetItem> {
  const items = snapshots.map((s) => toItem(s, opts.groupBy, protections(s)));
  const allowEmpty = opts.allowEmpty ?? policy.allowEmpty ?? false;
  const open = applyPolicy(items, { ...policy, allowEmpty: true }, now);
  if (allowEmpty) return open;
  const emptied = toForgetResult(open, true).groups.filter((g) => g.decisions.every((d) => !d.keep));
  if (emptied.length > 0) {
    const first = emptied[0] as ForgetGroup;
    const count = first.decisions.length;
    const more = emptied.length > 1 ? ` (and every snapshot of ${emptied.length - 1} more group${emptied.length > 2 ? "s" : ""})` : "";
    throw new CofferError(
      "INVALID",
      `The policy would remove all ${count} snapshot${count === 1 ? "" : "s"} of ${first.title}${more}; change the policy (e.g. add keep-last 1) or allow it with --allow-empty.`,
      { groups: emptied.map((g) => g.title), result: toForgetResult(open, true) },
    );
  }
  return applyPolicy(items, { ...policy, allowEmpty: false }, now);
}

async function planIds(repo: Repository, ids: string[], opts: ForgetOptions, protections: (s: Snapshot) => string[]): Promise<PolicyResult<ForgetItem>> {
  const chosen = new Map<string, SnapshotWithId>();
  for (const ref of ids) {
    const s = await findSnapshot(repo, ref, opts.filter ?? {});
    chosen.set(s.id, s);
  }
  const decisions: Decision<ForgetItem>[] = [];
  const refused: string[] = [];
  for (const s of [...chosen.values()].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : 1))) {
    const prot = protections(s);
    if (prot.length > 0 && !opts.force) refused.push(`${s.id.slice(0, 8)} (${prot.map((p) => p.replace(/^protected: /, "")).join(", ")})`);
    const reasons = ["named", ...prot.map((p) => `forced over ${p}`)];
    decisions.push({ item: toItem(s, opts.groupBy, []), keep: false, reasons });
  }
  if (refused.length > 0) {
    throw new CofferError(
      "INVALID",
      `Snapshot${refused.length === 1 ? "" : "s"} ${refused.join(", ")} ${refused.length === 1 ? "is" : "are"} protected; nothing was removed (use --force to forget ${refused.length === 1 ? "it" : "them"} anyway).`,
      { refused },
    );
  }
  return { decisions, keep: [], remove: decisions.map((d) => d.item) };
}

/**
 * Why a snapshot must not be forgotten: its retention override (`permanent`, an unexpired
 * `until` or `days`, `until-verified` while its change is not verified), its kind (`revision`
 * unless `includeRevisions`; `pre-change` while pending). Empty: the policy decides.
 * A date-only `until` lasts to the end of that day in the calendar's zone; `days` count from the
 * snapshot's time. An `until` that is not a date protects (an unreadable promise is kept).
 */
export function snapshotProtections(s: Snapshot, opts: { now: Date; includeRevisions?: boolean; calendar?: CalendarBuckets }): string[] {
  const calendar = opts.calendar ?? new CalendarBuckets();
  const out: string[] = [];
  const r = s.retention;
  const pending = s.change === undefined || s.change.status === "pending";
  if (r === "permanent") out.push("protected: permanent");
  else if (r === "until-verified" && pending) out.push("protected: until verified");
  else if (typeof r === "object" && "until" in r) {
    const until = String(r.until);
    if (/^\d{4}-\d{2}-\d{2}$/.test(until)) {
      if (calendar.label("daily", opts.now) <= until) out.push(`protected: until ${until}`);
    } else {
      const t = Date.parse(until);
      if (Number.isNaN(t)) out.push(`protected: until ${until} (not a date)`);
      else if (opts.now.getTime() < t) out.push(`protected: until ${until}`);
    }
  } else if (typeof r === "object" && "days" in r) {
    const end = calendar.add(new Date(s.time), { years: 0, months: 0, days: Math.max(0, Math.floor(Number(r.days) || 0)), hours: 0, text: "" });
    if (opts.now < end) out.push(`protected: ${r.days} days (until ${calendar.format(end)})`);
  }
  if (s.kind === "revision" && !opts.includeRevisions) out.push("protected: revision");
  if (s.kind === "pre-change" && s.change?.status !== "verified" && s.change?.status !== "retired") out.push("protected: pending pre-change");
  return out;
}

function groupFields(s: Snapshot, groupBy: GroupField[] | undefined): ForgetGroup["fields"] {
  const by = groupBy ?? (s.source ? ["source"] : ["host", "paths"]);
  const f: ForgetGroup["fields"] = {};
  if (by.includes("host")) f.host = s.hostname;
  if (by.includes("paths")) f.paths = [...s.paths].sort();
  if (by.includes("tags")) f.tags = [...s.tags].sort();
  if (by.includes("source")) f.source = s.source ?? "";
  return f;
}

/** A snapshot as `applyPolicy` sees it, grouped as forget groups it (also used to project expiry). */
export function toItem(s: SnapshotWithId, groupBy: GroupField[] | undefined, protect: string[]): ForgetItem {
  return { id: s.id, time: new Date(s.time), tags: s.tags, group: JSON.stringify(groupFields(s, groupBy)), protect, snapshot: s };
}

function groupTitle(f: ForgetGroup["fields"]): string {
  const parts: string[] = [];
  if (f.source !== undefined) parts.push(f.source === "" ? "no source" : `source ${f.source}`);
  if (f.host !== undefined) parts.push(`host ${f.host}`);
  if (f.paths !== undefined) parts.push(`paths ${f.paths.join(" ")}`);
  if (f.tags !== undefined) parts.push(f.tags.length > 0 ? `tags ${f.tags.join(",")}` : "no tags");
  return parts.length > 0 ? parts.join(", ") : "all snapshots";
}

function toForgetResult(r: PolicyResult<ForgetItem>, dryRun: boolean): ForgetResult {
  const groups = new Map<string, ForgetGroup>();
  for (const d of r.decisions) {
    const key = d.item.group ?? "{}";
    let g = groups.get(key);
    if (!g) {
      const fields = JSON.parse(key) as ForgetGroup["fields"];
      groups.set(key, (g = { fields, title: groupTitle(fields), decisions: [] }));
    }
    g.decisions.push(d);
  }
  return { dryRun, groups: [...groups.values()], kept: r.keep.map((i) => i.snapshot), removed: r.remove.map((i) => i.snapshot) };
}
