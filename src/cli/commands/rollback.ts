import { join } from "node:path";
import { CofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { findRollbackTarget, listRevisions } from "../../ops/revision.js";
import { type RollbackChange, type RollbackResult, rollback } from "../../ops/rollback.js";
import type { Repository } from "../../repository/repository.js";
import type { SnapshotWithId } from "../../snapshot/snapshot.js";
import { defineCommand } from "../command.js";
import type { Context } from "../context.js";
import { formatBytes, formatDuration, formatLocalTime } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printInfo, printJson, printLine, warningPrinter } from "../output.js";

interface RollbackOpts {
  dryRun?: boolean;
  verify: boolean;
  yes?: boolean;
  host?: string;
}

/** restic's diff letters. */
const LETTER: Record<RollbackChange["change"], string> = { added: "+", removed: "-", modified: "M", type: "T", metadata: "U" };

export const rollbackCommand = defineCommand<RollbackOpts>({
  name: "rollback",
  summary: "roll paths back to a revision, after a safety snapshot",
  description:
    "Bring the paths of a revision (or of any snapshot) back to the state it holds: first a safety snapshot of their current " +
    "state is taken, with the filters the revision was taken with; then every path is restored onto itself and what the " +
    "revision does not have is deleted — except what those filters leave out (node_modules, ignored files), which is never " +
    'touched; then what was written is verified. The output ends with the command that brings the previous state back. ' +
    "Interrupted, the same command run again finishes the job. Without an argument on a terminal, the revision is picked " +
    'from a list. Lines: "+" restored (was missing), "-" deleted, "M" content restored, "T" type changed, "U" mode or time restored.',
  examples: [
    "coffer rollback v1.4 --dry-run                 # what would change",
    "coffer rollback v1.4",
    "coffer rollback                                # pick a revision from a list",
    "coffer rollback 4f2a9c1e ~/app/config          # only this directory of the snapshot",
    "coffer rollback 7b3d0e52                       # undo a rollback: its safety snapshot",
  ],
  arguments: [
    { name: "[revision]", description: "a revision name, or a snapshot id or unique prefix" },
    { name: "[paths...]", description: "roll back only these paths of it (default: all its paths)" },
  ],
  options: [
    { flags: "-n, --dry-run", description: "show what would change; take no safety snapshot, write nothing" },
    { flags: "--no-verify", description: "do not re-read the restored files" },
    { flags: "-y, --yes", description: "do not ask for confirmation after picking from the list" },
    { flags: "--host <name>", description: "record this host name in the safety snapshot", hidden: true },
  ],
  async run(ctx, [ref, ...paths], opts) {
    const repo = await openRepo(ctx, { loadIndex: true });
    try {
      let snapshot: SnapshotWithId;
      if (ref !== undefined) snapshot = await findRollbackTarget(repo, ref);
      else if (ctx.stdinIsTTY) snapshot = await pick(ctx, repo, !opts.yes && !opts.dryRun);
      else throw new CofferError("USAGE", 'Name the revision or snapshot to roll back to, e.g. "coffer rollback v1.4"; "coffer revision list" shows the revisions.');
      printInfo(ctx, `${opts.dryRun ? "dry run: " : ""}rolling back ${(paths.length ? paths : snapshot.paths).join(" ")} to ${describe(snapshot)}`);
      const progress = ctx.progress();
      const journalDir = stateDir(ctx);
      const r = await rollback(repo, {
        snapshot,
        ...(paths.length ? { paths } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
        verify: opts.verify,
        ...(journalDir ? { journalDir } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        progress,
        onWarning: warningPrinter(ctx),
        signal: ctx.signal,
      });
      progress.done();
      report(ctx, r);
      if (r.errors.length > 0 || (r.verified?.mismatches ?? 0) > 0) {
        const undo = r.safety ? ` Run it again to finish, or "coffer rollback ${shortId(r.safety.id)}" to go back.` : "";
        throw new CofferError("CORRUPT", `The rollback did not restore everything: ${r.errors.length} errors, ${r.verified?.mismatches ?? 0} files that do not match; see above.${undo}`);
      }
    } finally {
      await repo.close();
    }
  },
});

function describe(s: SnapshotWithId): string {
  const when = formatLocalTime(new Date(s.time));
  if (s.kind === "revision" && s.label) return `revision "${s.label}" (${shortId(s.id)}, ${when})`;
  return `${s.kind} snapshot ${shortId(s.id)} (${s.label ? `${s.label}, ` : ""}${when})`;
}

function report(ctx: Context, r: RollbackResult): void {
  if (ctx.options.json) {
    printJson(ctx, {
      snapshot: { id: r.snapshot.id, kind: r.snapshot.kind, label: r.snapshot.label ?? null, time: r.snapshot.time },
      paths: r.paths,
      dry_run: r.dryRun,
      safety_id: r.safety?.id ?? null,
      extra_safety_id: r.extraSafety?.id ?? null,
      undo: r.safety ? `coffer rollback ${r.safety.id}` : null,
      changes: r.changes.map((c) => ({ path: c.path, modifier: LETTER[c.change], change: c.change, type: c.type })),
      kept: r.kept,
      files_restored: r.filesRestored,
      bytes_restored: r.bytesRestored,
      deleted: r.deleted,
      verified: r.verified ?? null,
      errors: r.errors,
      interrupted: r.interrupted ?? null,
      duration_s: r.duration_s,
    });
    return;
  }
  if (r.interrupted) {
    const first = r.interrupted.safety[0];
    printLine(ctx, `note: a rollback of these paths started ${r.interrupted.started} did not finish${first ? `; the state from before it is in snapshot ${shortId(first)} (coffer rollback ${shortId(first)})` : ""}`);
  }
  if (r.safety) printLine(ctx, `safety snapshot ${shortId(r.safety.id)} saved: the state before this rollback`);
  if (r.extraSafety) printLine(ctx, `safety snapshot ${shortId(r.extraSafety.id)} saved: files the revision's filters leave out but the rollback overwrote`);
  for (const c of r.changes) printLine(ctx, `${LETTER[c.change].padEnd(5)}${c.path}${c.type === "dir" ? "/" : ""}`);
  const count = (k: RollbackChange["change"]): number => r.changes.filter((c) => c.change === k && c.type !== "dir").length;
  const counts = `${count("added")} added, ${count("removed")} removed, ${count("modified") + count("type")} modified, ${count("metadata")} with other mode or time`;
  if (r.dryRun) {
    printLine(ctx, `dry run: ${r.changes.length === 0 ? "nothing would change" : `would change ${counts}`}; no safety snapshot was taken and nothing was written`);
    return;
  }
  printLine(ctx, `rolled back in ${formatDuration(r.duration_s * 1000)}: ${r.changes.length === 0 ? "nothing had changed" : counts} (${r.filesRestored} files written, ${formatBytes(r.bytesRestored)}; ${r.deleted} entries deleted)`);
  if (r.verified) printLine(ctx, `verified ${r.verified.files} files (${formatBytes(r.verified.bytes)}): ${r.verified.mismatches ? `${r.verified.mismatches} MISMATCHES` : "all match"}`);
  for (const k of r.kept) printLine(ctx, `kept: ${k} (not in the revision, but changed after the safety snapshot)`);
  for (const e of r.errors) printLine(ctx, `error: ${e.path}: ${e.message}`);
  if (r.safety) printLine(ctx, `to get the state from before this rollback back:  coffer rollback ${shortId(r.safety.id)}`);
}

/** Interactive choice: a numbered list of revisions, newest first, then a confirmation. */
async function pick(ctx: Context, repo: Repository, confirm: boolean): Promise<SnapshotWithId> {
  const list = (await listRevisions(repo)).reverse();
  if (list.length === 0) throw new CofferError("NOT_FOUND", 'There are no revisions to roll back to; "coffer revision save NAME" saves one, or give a snapshot id.');
  ctx.stderr.write("Revisions, newest first:\n");
  list.forEach((s, i) => ctx.stderr.write(`  ${String(i + 1).padStart(2)}. ${s.label ?? ""}  ${shortId(s.id)}  ${formatLocalTime(new Date(s.time))}  ${s.paths.join(" ")}${s.description ? `  ${s.description}` : ""}\n`));
  const cancelled = (): CofferError => new CofferError("INVALID", "No revision was chosen; nothing was rolled back.");
  let chosen: SnapshotWithId | undefined;
  while (!chosen) {
    const answer = (await ctx.readLine(`Roll back to which revision? [1-${list.length}, q to quit]: `))?.trim();
    if (answer === undefined || answer === "" || /^q(uit)?$/i.test(answer)) throw cancelled();
    const n = /^\d+$/.test(answer) ? Number(answer) : Number.NaN;
    chosen = list[n - 1];
    if (!chosen) ctx.stderr.write(`Enter a number from 1 to ${list.length}, or q.\n`);
  }
  if (confirm) {
    const yes = (await ctx.readLine(`Roll back ${chosen.paths.join(" ")} to ${describe(chosen)}? A safety snapshot is taken first. [y/N]: `))?.trim();
    if (!yes || !/^y(es)?$/i.test(yes)) throw cancelled();
  }
  return chosen;
}

/** Where this machine notes rollbacks under way: $XDG_STATE_HOME/coffer, else ~/.local/state/coffer. */
function stateDir(ctx: Context): string | undefined {
  const base = ctx.env.XDG_STATE_HOME || (ctx.env.HOME ? join(ctx.env.HOME, ".local", "state") : undefined);
  return base ? join(base, "coffer") : undefined;
}
