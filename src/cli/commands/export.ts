import { createWriteStream } from "node:fs";
import { access, rename, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { CofferError, ioError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { ARCHIVE_FORMATS, type ArchiveFormat, formatFromName } from "../../ops/archive-format.js";
import { exportSnapshot, type ExportResult } from "../../ops/export.js";
import type { ByteSink } from "../../ops/export-writer.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { streamSink } from "../../snapshot/tar-writer.js";
import { stdoutSink } from "../binary-output.js";
import { collect, defineCommand, integer } from "../command.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printInfo, printJson, printLine, warningPrinter } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface ExportOpts extends SnapshotFilterFlags {
  output?: string;
  format?: ArchiveFormat;
  include: string[];
  exclude: string[];
  level?: number;
  force?: boolean;
}

export const exportCommand = defineCommand<ExportOpts>({
  name: "export",
  summary: "write a snapshot as a ZIP or tar archive with a manifest of SHA-256 hashes",
  description:
    "Write a snapshot, or a part of it (ID:/path), as a self-contained archive anyone can open: .zip (unzip), .tar, .tar.gz " +
    "or .tar.zst (tar). The archive ends with manifest.json: the snapshot's metadata, what was included, and every file with " +
    "its size, SHA-256, mode and modification time; \"coffer verify-archive\" checks an archive against it, and " +
    "\"coffer import\" turns it back into a snapshot. Paths in the archive start with the name of what was exported " +
    "(exporting /srv/app gives app/...). The archive is streamed: any size, bounded memory, each blob read once. " +
    "With -o - it goes to stdout (tar unless --format says otherwise).",
  examples: [
    "coffer export latest -o backup.zip",
    "coffer export 4f2a9c1e:/srv/app -o app.tar.zst",
    "coffer export latest -o - | tar -x -C /tmp/restore",
    "coffer export latest:/srv/app -o app.zip --exclude '*.log' --level 0   # stored, not deflated",
    "coffer export latest --host web1 -o web1.tar.gz --json",
  ],
  arguments: [{ name: "<snapshot>", description: "snapshot id, prefix or latest, optionally :/path/inside" }],
  options: [
    { flags: "-o, --output <file>", description: "the archive to write (- for stdout); its extension names the format" },
    { flags: "--format <format>", description: "zip, tar, tar.gz or tar.zst (default: from the extension)", choices: ARCHIVE_FORMATS },
    { flags: "-i, --include <pattern>", description: "export only paths matching a glob pattern (repeatable)", parse: collect, default: [] },
    { flags: "-e, --exclude <pattern>", description: "leave out paths matching a glob pattern (repeatable)", parse: collect, default: [] },
    { flags: "--level <n>", description: "compression level: zip 0-9 (0 stores), gzip 1-9, zstd 1-19", parse: integer },
    { flags: "-f, --force", description: "overwrite the output file if it exists" },
    ...snapshotFilterOptions,
  ],
  async run(ctx, [ref], opts) {
    if (!opts.output) throw new CofferError("USAGE", 'Name the archive to write with -o, e.g. "coffer export latest -o backup.zip" (or -o - for stdout).');
    const toStdout = opts.output === "-";
    const format = opts.format ?? (toStdout ? "tar" : formatFromName(opts.output));
    if (format === undefined) throw new CofferError("USAGE", `Cannot tell the archive format from "${opts.output}"; end it in .zip, .tar, .tar.gz or .tar.zst, or give --format.`);
    if (toStdout && ctx.stdoutIsTTY) throw new CofferError("USAGE", "An archive is not written to a terminal; redirect stdout to a file or a pipe, or give -o FILE.");
    if (toStdout && ctx.options.json) throw new CofferError("USAGE", "With -o - the archive goes to stdout, so --json cannot print there; give -o FILE.");
    if (!toStdout && !opts.force && (await exists(opts.output))) throw new CofferError("INVALID", `${opts.output} already exists; remove it or give --force to overwrite it.`);
    const [id, subPath] = splitRef(ref ?? "");
    const repo = await openRepo(ctx, { loadIndex: true });
    const progress = ctx.progress();
    try {
      const snapshot = await findSnapshot(repo, id, snapshotFilterFrom(opts));
      const run = (sink: ByteSink): Promise<ExportResult> =>
        exportSnapshot(repo, sink, {
          snapshot,
          format,
          ...(subPath !== undefined ? { path: subPath } : {}),
          include: opts.include,
          exclude: opts.exclude,
          ...(opts.level !== undefined ? { level: opts.level } : {}),
          progress,
          onWarning: warningPrinter(ctx),
          signal: ctx.signal,
        });
      const r = toStdout ? await run(stdoutSink(ctx)) : await toFile(opts.output, run);
      progress.done();
      const t = r.totals;
      if (ctx.options.json) {
        printJson(ctx, { snapshot: r.snapshot, path: r.path, base: r.base, format: r.format, output: opts.output, archive_bytes: r.archiveBytes, totals: t });
        return;
      }
      const text =
        `exported ${r.path === "/" ? "" : `${r.path} of `}snapshot ${shortId(r.snapshot)} to ${toStdout ? "stdout" : opts.output} (${r.format}): ` +
        `${t.files} files (${formatBytes(t.bytes)}), ${t.dirs} dirs, ${t.symlinks} symlinks${t.skipped ? `, ${t.skipped} left out` : ""}; ` +
        `archive ${formatBytes(r.archiveBytes)}, manifest.json last`;
      if (toStdout) printInfo(ctx, text);
      else printLine(ctx, text);
    } finally {
      progress.done();
      await repo.close();
    }
  },
});

/** Writes to a temporary file next to `file` and renames it into place only once complete. */
async function toFile(file: string, run: (sink: ByteSink) => Promise<ExportResult>): Promise<ExportResult> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString("hex")}.partial`);
  const stream = createWriteStream(tmp, { mode: 0o600 });
  const failed = new Promise<never>((_, reject) => stream.once("error", (err) => reject(ioError(err, `writing ${file}`))));
  failed.catch(() => undefined);
  try {
    const result = await Promise.race([run(streamSink(stream)), failed]);
    await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), failed]);
    await rename(tmp, file).catch((err: unknown) => {
      throw ioError(err, `renaming the archive to ${file}`);
    });
    return result;
  } catch (err) {
    stream.destroy();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** `ID` or `ID:/path/inside`. */
function splitRef(ref: string): [string, string | undefined] {
  const i = ref.indexOf(":");
  if (i < 0) return [ref, undefined];
  return [ref.slice(0, i), ref.slice(i + 1) || "/"];
}
