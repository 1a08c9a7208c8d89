import { parseTime } from "../parse-time.js";
import { shortId } from "../../core/hex.js";
import { ARCHIVE_FORMATS, type ArchiveFormat } from "../../ops/archive-format.js";
import { importArchive } from "../../ops/import.js";
import { collect, defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";

interface ImportOpts {
  as?: string;
  tag: string[];
  label?: string;
  description?: string;
  host?: string;
  time?: Date;
  format?: ArchiveFormat;
}

export const importCommand = defineCommand<ImportOpts>({
  name: "import",
  summary: "turn a ZIP or tar archive into an import snapshot",
  description:
    "Read a ZIP or tar archive (plain, gzip or zstd) and store it as a snapshot of kind \"import\", deduplicated against " +
    "the repository. An archive made by \"coffer export\" is verified against its manifest while it is read: any damage " +
    "or difference stops the import, names the file, and writes no snapshot; its entries go back to their snapshot paths, " +
    "and the snapshot keeps the original's time, host, tags, label and description unless told otherwise. Any other " +
    "archive goes under /import/<archive name>. --as puts the entries under another path. Give - to read a tar from stdin.",
  examples: [
    "coffer import backup.zip",
    "coffer import mhm_backup_20251217_120000.zip --as /srv/mhm/data --tag weekly",
    "coffer import app.tar.zst --host web1 --time 2026-01-31T02:00:00Z --label 'before migration'",
    "curl -s https://example.org/site.tar.gz | coffer import - --as /srv/site",
  ],
  arguments: [{ name: "<archive>", description: "the archive file, or - for a tar on stdin" }],
  options: [
    { flags: "--as <path>", description: "snapshot directory to put the entries under" },
    { flags: "--tag <tag>", description: "add a tag to the snapshot (repeatable)", parse: collect, default: [] },
    { flags: "--label <text>", description: "a short label for the snapshot" },
    { flags: "--description <text>", description: "a longer description" },
    { flags: "--host <name>", description: "record this host name (default: the exporting snapshot's, or this machine's)" },
    { flags: "--time <timestamp>", description: "record this time (ISO 8601; default: the exported snapshot's, or now)", parse: parseTime },
    { flags: "--format <format>", description: "zip, tar, tar.gz or tar.zst (default: recognised from the content)", choices: ARCHIVE_FORMATS },
  ],
  async run(ctx, [file], opts) {
    const stdin = file === "-";
    const repo = await openRepo(ctx, { create: true });
    const progress = ctx.progress();
    try {
      const r = await importArchive(repo, {
        input: stdin ? process.stdin : (file as string),
        name: stdin ? "stdin" : (file as string),
        ...(opts.format ? { format: opts.format } : {}),
        ...(opts.as !== undefined ? { as: opts.as } : {}),
        tags: opts.tag.flatMap((t) => t.split(",")).filter(Boolean),
        ...(opts.label !== undefined ? { label: opts.label } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.time !== undefined ? { time: opts.time } : {}),
        progress,
        onWarning: warningPrinter(ctx),
        signal: ctx.signal,
      });
      progress.done();
      if (ctx.options.json) {
        const { snapshot, warnings, ...rest } = r;
        printJson(ctx, { snapshot_id: snapshot.id, paths: snapshot.paths, ...rest, summary: snapshot.summary, warnings });
        return;
      }
      printLine(
        ctx,
        `imported ${r.files} files (${formatBytes(r.bytes)}), ${r.dirs} dirs, ${r.symlinks} symlinks${r.skipped ? `, ${r.skipped} left out` : ""} from ${stdin ? "stdin" : file} (${r.format})`,
      );
      if (r.exportedFrom) printLine(ctx, `verified against its manifest: exported from snapshot ${shortId(r.exportedFrom)}`);
      printLine(ctx, `Added to the repository: ${formatBytes(r.snapshot.summary?.bytes_added ?? 0)} (${r.snapshot.summary?.blobs_added ?? 0} blobs)`);
      printLine(ctx, `snapshot ${shortId(r.snapshot.id)} saved (${r.snapshot.paths.join(", ")})`);
    } finally {
      progress.done();
      await repo.close();
    }
  },
});

