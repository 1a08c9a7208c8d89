import { CofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { check, type CheckProblem } from "../../ops/check.js";
import { defineCommand } from "../command.js";
import { formatBytes, formatDuration } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, printWarning, warningPrinter } from "../output.js";

export const checkCommand = defineCommand<{ readData?: boolean; readDataSubset?: string; stamp: boolean }>({
  name: "check",
  summary: "verify the repository's structure and, on request, its data",
  description:
    "Check that the config, keys, index files, pack headers, snapshots and trees are sound and that every blob a snapshot " +
    "needs is present. With --read-data every pack is read back, decrypted and re-hashed; --read-data-subset reads a part " +
    "(n/t: the n-th of t groups; x%: a random share), so a schedule can cover everything over time. Each problem names the " +
    "damaged object and the snapshots it affects. A full data check without errors stamps integrity.verified_at on the snapshots. " +
    "It reads the repository itself, never the local cache of a remote repository. Exit code 1 when anything is damaged.",
  examples: [
    "coffer check",
    "coffer check --read-data",
    "coffer check --read-data-subset 1/7     # a seventh of the packs; use 2/7 tomorrow, …",
    "coffer check --read-data-subset 10% --json",
  ],
  options: [
    { flags: "--read-data", description: "read and verify every byte of every pack" },
    { flags: "--read-data-subset <subset>", description: "read and verify a part of the packs: n/t or x%" },
    { flags: "--no-stamp", description: "do not record the data check in the snapshots (integrity.verified_at)" },
  ],
  async run(ctx, _args, opts) {
    // No index loading here: check reads the index files itself and reports damaged ones.
    // Nor the local cache: check verifies what the repository holds, not copies of it.
    const repo = await openRepo(ctx, { cache: false });
    const progress = ctx.progress();
    const started = Date.now();
    try {
      const r = await check(repo, {
        ...(opts.readData ? { readData: true } : {}),
        ...(opts.readDataSubset ? { readDataSubset: opts.readDataSubset } : {}),
        stampIntegrity: opts.stamp,
        progress,
        onWarning: warningPrinter(ctx),
        signal: ctx.signal,
      });
      progress.done();
      if (ctx.options.json) printJson(ctx, r);
      else {
        for (const w of r.warnings) printWarning(ctx, describe(w));
        for (const e of r.errors) printLine(ctx, `error: ${describe(e)}`);
        const read = r.packsRead ? `, read ${r.packsRead} packs (${formatBytes(r.bytesRead)}, ${r.blobsRead} blobs)` : "";
        printLine(ctx, `checked ${r.packsChecked} packs and ${r.snapshotsChecked} snapshots${read} in ${formatDuration(Date.now() - started)}`);
        if (r.damagedSnapshots.length) printLine(ctx, `damaged snapshots: ${r.damagedSnapshots.map(shortId).join(" ")}`);
        if (r.stamped.length) printLine(ctx, `recorded the data check in ${r.stamped.length} snapshots (their ids changed; the old ids are kept as "original")`);
        printLine(ctx, r.ok ? "no errors were found" : `${r.errors.length} error${r.errors.length === 1 ? "" : "s"} found`);
      }
      if (!r.ok) {
        throw new CofferError(
          "CORRUPT",
          `The repository has ${r.errors.length} error${r.errors.length === 1 ? "" : "s"}${r.damagedSnapshots.length ? ` affecting ${r.damagedSnapshots.length} snapshots` : ""}; see the list above (a damaged index is fixed by "coffer repair index").`,
          { errors: r.errors.length },
        );
      }
    } finally {
      progress.done();
      await repo.close();
    }
  },
});

function describe(p: CheckProblem): string {
  const id = p.kind === "config" ? "config" : `${p.kind} ${shortId(p.id)}`;
  const snaps = p.snapshots?.length ? ` (affects snapshots ${p.snapshots.map(shortId).join(", ")})` : "";
  return `${id}: ${p.message}${snaps}`;
}
