import { CofferError } from "../../core/errors.js";
import { favourSpeedOverMemory, keepYoungGenerationSmall } from "../../core/gc.js";
import { shortId } from "../../core/hex.js";
import type { OverwritePolicy } from "../../snapshot/restorer.js";
import { packsThroughMainThread } from "../../snapshot/restore-data.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { collect, defineCommand, InvalidArgumentError } from "../command.js";
import { formatBytes, formatDuration } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, printVerbose, warningPrinter } from "../output.js";
import { type InPlaceFlags, inPlaceOptions, printSafety, restoreTargetOrInPlace } from "./restore-in-place.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface RestoreOpts extends SnapshotFilterFlags, InPlaceFlags {
  target?: string;
  include: string[];
  exclude: string[];
  verify?: boolean;
  delete?: boolean;
  dryRun?: boolean;
  overwrite: OverwritePolicy;
}

export const restoreCommand = defineCommand<RestoreOpts>({
  name: "restore",
  summary: "restore a snapshot into a directory",
  description:
    "Restore a snapshot, or a part of it, into a target directory. Snapshots hold full paths, so a backup of /srv/app " +
    "restores to TARGET/srv/app; name a directory after the snapshot (ID:/srv/app) to restore its contents directly into " +
    "TARGET. Modes, times, symlinks, hard links and (as root) owners are restored; nothing is ever written outside the target.",
  examples: [
    "coffer restore latest --target /tmp/restore",
    "coffer restore 4f2a9c1e:/srv/app --target /srv/app-restored   # the contents of /srv/app",
    "coffer restore latest --target /tmp/r --include '/srv/app/config/**' --verify",
    "coffer restore latest:/srv/app --target /srv/app --delete --dry-run   # what would change",
    "coffer restore latest --host web1 --path /srv/app --target /tmp/r",
    "coffer restore 4f2a9c1e --in-place --verify      # over the original paths, after a safety snapshot",
  ],
  arguments: [{ name: "<snapshot>", description: "snapshot id, prefix or latest, optionally :/path/inside" }],
  options: [
    { flags: "-t, --target <dir>", description: "directory to restore into (required)" },
    { flags: "-i, --include <pattern>", description: "restore only paths matching a glob pattern (repeatable)", parse: collect, default: [] },
    { flags: "-e, --exclude <pattern>", description: "do not restore paths matching a glob pattern (repeatable)", parse: collect, default: [] },
    { flags: "--verify", description: "re-read what was written and check it against the snapshot" },
    { flags: "--delete", description: "remove files in the target that are not in the snapshot" },
    { flags: "-n, --dry-run", description: "show what would be done; write nothing" },
    { flags: "--overwrite <when>", description: "existing files: always, if-changed, if-newer or never", default: "always", parse: overwritePolicy },
    ...inPlaceOptions,
    ...snapshotFilterOptions,
  ],
  async run(ctx, [ref], opts) {
    // Before the index is read: its parsing would grow the young generation to 32 MiB.
    keepYoungGenerationSmall();
    if (!opts.target && !opts.inPlace) throw new CofferError("USAGE", 'Name the directory to restore into with --target, e.g. "coffer restore latest --target /tmp/restore", or restore over the original paths with --in-place.');
    const [id, subPath] = splitRef(ref ?? "");
    const repo = await openRepo(ctx, { loadIndex: true });
    // Every byte of such packs passes the main thread (core/gc.ts).
    if (packsThroughMainThread(repo)) {
      favourSpeedOverMemory();
      printVerbose(ctx, "packs are fetched through the main thread: V8's memory-saving mode is off for this restore (faster, about 15 MB more memory)");
    }
    const progress = ctx.progress();
    try {
      const snapshot = await findSnapshot(repo, id, snapshotFilterFrom(opts));
      const outcome = await restoreTargetOrInPlace(repo, {
        snapshot,
        ...(subPath ? { subPath } : {}),
        include: opts.include,
        exclude: opts.exclude,
        ...(opts.verify ? { verify: true } : {}),
        ...(opts.delete ? { delete: true } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
        overwrite: opts.overwrite,
        progress,
        onWarning: warningPrinter(ctx),
        signal: ctx.signal,
      }, opts.target, opts);
      const r = outcome.r;
      progress.done();
      if (ctx.options.json) printJson(ctx, outcome.safety ? { ...r, safety_id: outcome.safety.id, kept: outcome.kept } : r);
      else {
        if (r.dryRun) {
          for (const a of r.actions ?? []) if (a.action !== "skip") printLine(ctx, `${a.action.padEnd(9)} ${a.path}`);
          printLine(ctx, `dry run: ${r.actions?.filter((a) => a.action !== "skip").length ?? 0} changes; nothing was written`);
        } else {
          printLine(
            ctx,
            `restored snapshot ${shortId(r.snapshot)} to ${r.target}: ${r.filesRestored} files (${formatBytes(r.bytesRestored)}), ${r.dirs} dirs, ${r.symlinks} symlinks` +
              `${r.filesSkipped ? `, ${r.filesSkipped} left as they were` : ""}${r.deleted ? `, ${r.deleted} removed` : ""} in ${formatDuration(r.duration_s * 1000)}`,
          );
          if (r.verified) printLine(ctx, `verified ${r.verified.files} files (${formatBytes(r.verified.bytes)}): ${r.verified.mismatches ? `${r.verified.mismatches} MISMATCHES` : "all match"}`);
        }
        for (const e of r.errors) printLine(ctx, `error: ${e.path}: ${e.message}`);
        printSafety(ctx, outcome);
      }
      if (r.errors.length) {
        throw new CofferError("CORRUPT", `${r.errors.length} entries could not be restored correctly; see the list above ("coffer check --read-data" tells what is damaged).`, { errors: r.errors.length });
      }
    } finally {
      progress.done();
      await repo.close();
    }
  },
});

/** `ID` or `ID:/path/inside`. */
function splitRef(ref: string): [string, string | undefined] {
  const i = ref.indexOf(":");
  if (i < 0) return [ref, undefined];
  return [ref.slice(0, i), ref.slice(i + 1) || "/"];
}

function overwritePolicy(v: string): OverwritePolicy {
  if (v === "always" || v === "if-changed" || v === "if-newer" || v === "never") return v;
  throw new InvalidArgumentError("Use always, if-changed, if-newer or never.");
}
