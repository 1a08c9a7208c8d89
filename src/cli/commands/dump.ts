import { createWriteStream } from "node:fs";
import { CofferError, ioError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { type ByteSink, dumpTar, type DumpResult, writeFileContent } from "../../snapshot/dump.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { streamSink } from "../../snapshot/tar-writer.js";
import { lookupPath } from "../../snapshot/walker.js";
import { stdoutSink } from "../binary-output.js";
import { defineCommand } from "../command.js";
import { formatBytes } from "../format.js";
import { openRepo } from "../open-repo.js";
import { printInfo, printJson, warningPrinter } from "../output.js";
import { type SnapshotFilterFlags, snapshotFilterFrom, snapshotFilterOptions } from "../snapshot-filter-options.js";

interface DumpOpts extends SnapshotFilterFlags {
  target?: string;
  archive: string;
}

export const dumpCommand = defineCommand<DumpOpts>({
  name: "dump",
  summary: "write a file or directory of a snapshot to stdout",
  description:
    "Write the content of a file in a snapshot to stdout, or a directory (\"/\" for the whole snapshot) as a tar archive, " +
    "streamed blob by blob whatever its size. Tar entries are named by their snapshot paths without the leading \"/\", keep " +
    "modes, owners, nanosecond modification times (pax headers), symlinks, hard links and devices. With --target the output " +
    "goes to a file instead, and --json then prints a summary. A tar archive is not written to a terminal.",
  examples: [
    "coffer dump latest /srv/app/config.yaml > config.yaml",
    "coffer dump 4f2a9c1e /srv/app | tar -x -C /tmp/restore",
    "coffer dump latest / --target snapshot.tar --json",
    "coffer dump latest /var/lib/app/db.sqlite --host db1 --target /tmp/db.sqlite",
  ],
  arguments: [
    { name: "<snapshot>", description: "snapshot id, prefix or \"latest\"" },
    { name: "<path>", description: "a file or directory in the snapshot (full path)" },
  ],
  options: [
    ...snapshotFilterOptions,
    { flags: "-t, --target <file>", description: "write to this file instead of stdout" },
    { flags: "-a, --archive <format>", description: "archive format for directories", choices: ["tar"], default: "tar" },
  ],
  async run(ctx, args, opts) {
    const [ref, path] = args as [string, string];
    if (ctx.options.json && opts.target === undefined) {
      throw new CofferError("USAGE", "dump writes the content to stdout, so --json needs --target FILE to print its summary.");
    }
    const repo = await openRepo(ctx, { loadIndex: true });
    const warnings = warningPrinter(ctx);
    try {
      const snap = await findSnapshot(repo, ref, snapshotFilterFrom(opts));
      const found = await lookupPath(repo, snap.tree, path);
      const isFile = found.node?.type === "file";
      if (!isFile && opts.target === undefined && ctx.stdoutIsTTY) {
        throw new CofferError("USAGE", `${found.path} is a directory, written as a tar archive; redirect stdout to a file or a pipe, or use --target FILE.`);
      }
      const dumpOpts = { signal: ctx.signal, onWarning: warnings };
      const write = async (sink: ByteSink): Promise<DumpResult> => {
        if (found.node !== undefined && found.node.type === "file") {
          return { format: "file", entries: 1, bytes: await writeFileContent(repo, found.node, sink, ctx.signal, found.path) };
        }
        return dumpTar(repo, snap.tree, found.path, sink, dumpOpts);
      };
      if (opts.target === undefined) {
        await write(stdoutSink(ctx));
      } else {
        const result = await toFile(opts.target, write);
        if (ctx.options.json) printJson(ctx, { snapshot: snap.id, path: found.path, target: opts.target, format: result.format, entries: result.entries, bytes: result.bytes });
        else printInfo(ctx, `wrote ${found.path} of snapshot ${shortId(snap.id)} to ${opts.target} (${result.format === "tar" ? `tar, ${result.entries} entries, ` : ""}${formatBytes(result.bytes)})`);
      }
    } finally {
      await repo.close();
    }
  },
});

async function toFile(file: string, run: (sink: ByteSink) => Promise<DumpResult>): Promise<DumpResult> {
  const stream = createWriteStream(file, { mode: 0o600 });
  const failed = new Promise<never>((_, reject) => stream.once("error", (err) => reject(ioError(err, `writing ${file}`))));
  failed.catch(() => undefined);
  try {
    const result = await Promise.race([run(streamSink(stream)), failed]);
    await Promise.race([new Promise<void>((resolve) => stream.end(resolve)), failed]);
    return result;
  } catch (err) {
    stream.destroy();
    throw err;
  }
}
