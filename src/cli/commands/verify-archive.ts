import { CofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { ARCHIVE_FORMATS, type ArchiveFormat } from "../../ops/archive-format.js";
import { verifyArchive } from "../../ops/verify-archive.js";
import { defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { printJson, printLine } from "../output.js";

interface VerifyArchiveOpts {
  format?: ArchiveFormat;
}

export const verifyArchiveCommand = defineCommand<VerifyArchiveOpts>({
  name: "verify-archive",
  summary: "check an exported archive against its manifest",
  description:
    "Read every entry of a ZIP or tar archive (plain, gzip or zstd), re-hash every file and compare it with the archive's " +
    "manifest.json: files missing, extra, of another size or SHA-256, mode or modification time are listed one per line. " +
    "Damage (a failed CRC, a truncated archive, a broken compressed stream) is reported with the file it hits. Exits 1 when " +
    "anything differs, and for an archive without a coffer manifest. Needs no repository. Give - to read a tar from stdin.",
  examples: ["coffer verify-archive backup.zip", "coffer verify-archive app.tar.zst --json", "ssh host cat /backups/app.tar.gz | coffer verify-archive -"],
  arguments: [{ name: "<archive>", description: "the archive file, or - for a tar on stdin" }],
  options: [{ flags: "--format <format>", description: "zip, tar, tar.gz or tar.zst (default: recognised from the content)", choices: ARCHIVE_FORMATS }],
  async run(ctx, [file], opts) {
    const input = file === "-" ? process.stdin : (file as string);
    const progress = ctx.progress();
    let r;
    try {
      r = await verifyArchive(input, { ...(opts.format ? { format: opts.format } : {}), name: file === "-" ? "stdin" : (file as string), progress, signal: ctx.signal });
    } finally {
      progress.done();
    }
    if (ctx.options.json) printJson(ctx, r);
    else {
      for (const p of r.problems) printLine(ctx, p.message);
      const m = r.manifest;
      const what = m ? `snapshot ${shortId(m.snapshot.id)} of ${m.snapshot.hostname} at ${m.snapshot.time}, exported ${m.created}` : r.complete ? "no coffer manifest" : "its manifest was not reached";
      if (r.ok) printLine(ctx, `${r.archive}: ${r.files} files (${formatBytes(r.bytes)}) match the manifest (${what})`);
      else printLine(ctx, `${r.archive}: ${r.problems.length} ${r.problems.length === 1 ? "problem" : "problems"} (${r.files} files, ${formatBytes(r.bytes)} read; ${what})`);
    }
    if (!r.ok) {
      const first = r.problems[0];
      const only = r.problems.length === 1 && first !== undefined;
      throw new CofferError(
        "CORRUPT",
        only ? `${r.archive} does not verify: ${first.message.replace(/\.$/, "")}.` : `${r.archive} does not verify: ${r.problems.length} problems, listed above.`,
        { problems: r.problems.length },
      );
    }
  },
});
