import { readFile } from "node:fs/promises";
import { CofferError, ioError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { copy } from "../../ops/copy.js";
import { Repository } from "../../repository/repository.js";
import { defineCommand } from "../command.js";
import { cacheOptions, openCliBackend } from "../open-repo.js";
import type { Context } from "../context.js";
import { printJson, printLine } from "../output.js";
import { snapshotFilterFrom, type SnapshotFilterFlags, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface CopyFlags extends SnapshotFilterFlags {
  fromRepo: string;
  toRepo?: string;
  fromPasswordFile?: string;
  source?: string;
  dryRun?: boolean;
}

export const copyCommand = defineCommand<CopyFlags>({
  name: "copy",
  summary: "copy snapshots into another repository",
  description:
    "Copy the snapshots of --from-repo that the target (--to-repo, or -r) does not hold yet, sending only the blobs the target " +
    "lacks. The target must share the source's chunker and id parameters: create it with " +
    '"coffer init -r TARGET --copy-params-from SOURCE". A copied snapshot keeps the id of the first one as "original", which ' +
    "is how a later copy knows it is there. Interrupted, run it again: what arrived is not sent again. The source's password " +
    "comes from --from-password-file or COFFER_FROM_PASSWORD, the target's from the usual password options.",
  examples: [
    "coffer copy --from-repo /srv/repo --to-repo rest:http://backup.example:8000/repo --from-password-file ~/.repo-pass",
    "coffer copy --from-repo /srv/repo -r rclone:b2:bucket/coffer --tag daily   # only snapshots tagged daily",
    "coffer copy --from-repo /srv/repo --to-repo /mnt/usb/coffer --dry-run      # what would be copied",
  ],
  options: [
    { flags: "--from-repo <repository>", description: "the repository to copy from (required)" },
    { flags: "--to-repo <repository>", description: "the repository to copy into (default: -r / COFFER_REPOSITORY)" },
    { flags: "--from-password-file <file>", description: "password file of the source repository (env: COFFER_FROM_PASSWORD holds the password itself)" },
    ...snapshotFilterOptions,
    { flags: "--source <name>", description: "only snapshots of this configured source" },
    { flags: "-n, --dry-run", description: "show what would be copied, write nothing" },
  ],
  async run(ctx, _args, opts) {
    if (!opts.fromRepo) throw new CofferError("USAGE", "Name the repository to copy from with --from-repo.");
    const toLocation = opts.toRepo ?? (ctx.repository.isDefault ? undefined : ctx.repository.location);
    if (toLocation === undefined) throw new CofferError("USAGE", "Name the repository to copy into with --to-repo (or -r).");
    const fromPassword = await sourcePassword(ctx, opts.fromPasswordFile);
    const from = await Repository.open(openCliBackend(ctx, opts.fromRepo), { clock: ctx.clock, cache: cacheOptions(ctx), ...(fromPassword !== undefined ? { password: fromPassword } : {}) }).catch((err: unknown) => {
      if (err instanceof CofferError && (err.code === "NO_PASSWORD" || err.code === "WRONG_PASSWORD")) {
        throw new CofferError(err.code, `The source repository ${opts.fromRepo} needs its password: give it with --from-password-file or COFFER_FROM_PASSWORD (${err.message})`, err.data);
      }
      throw err;
    });
    try {
      const to = await Repository.open(openCliBackend(ctx, toLocation), { clock: ctx.clock, cache: cacheOptions(ctx), password: () => ctx.password() });
      try {
        const progress = ctx.progress();
        const filter = { ...snapshotFilterFrom(opts), ...(opts.source !== undefined ? { source: opts.source } : {}) };
        // The copy's own warnings and the backends' retries alike: printed, and kept for --json.
        const r = await copy(from, to, { filter, dryRun: opts.dryRun === true, progress, onWarning: (w) => ctx.warn(w), signal: ctx.signal });
        if (ctx.options.json) {
          printJson(ctx, { copied: r.copied, skipped: r.skipped, blobs_added: r.blobsAdded, bytes_added: r.bytesAdded, blobs_present: r.blobsPresent, dry_run: r.dryRun, warnings: ctx.warnings });
          return;
        }
        for (const c of r.copied) {
          const what = `${shortId(c.from)} (${c.time}, ${c.hostname}, ${c.paths.join(" ")})`;
          printLine(ctx, r.dryRun ? `would copy snapshot ${what}` : `copied snapshot ${what} as ${shortId(c.to ?? "")}`);
        }
        const verb = r.dryRun ? "would copy" : "copied";
        printLine(ctx, `${verb} ${r.copied.length} snapshot${r.copied.length === 1 ? "" : "s"} (${r.skipped} already there), ${r.blobsAdded} new blobs, ${r.bytesAdded} bytes; ${r.blobsPresent} blobs were already there`);
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
  },
});

async function sourcePassword(ctx: Context, file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) {
    try {
      return (await readFile(file, "utf8")).replace(/^\uFEFF/, "").replace(/\r?\n$/, "");
    } catch (err) {
      throw ioError(err, `reading the source password file ${file}`);
    }
  }
  const env = ctx.env.COFFER_FROM_PASSWORD;
  return env !== undefined && env !== "" ? env : undefined;
}
