import { readFile } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { CofferError, ioError } from "../../core/errors.js";
import { saveVersion, writeVersioned, type WriteVersionedResult } from "../../rotate/write-versioned.js";
import { defineCommand, integer } from "../command.js";
import type { Context } from "../context.js";
import { printJson, printLine, printVerbose, printWarning } from "../output.js";

interface VersionsFlags {
  keep?: number;
  archiveDir?: string;
  from?: string;
}

// `coffer version` stays the program's version; versions of a file are `coffer versions PATH`.
export const versionsCommand = defineCommand<VersionsFlags>({
  name: "versions",
  summary: "keep the newest N versions of a file (generated reports, tool output)",
  description:
    "Keep PATH's content as a version {stem}_{YYYY-MM-DD_HHMMSS}_{counter}{ext} in --archive-dir (or, with --from, write the new " +
    "content to PATH and keep the previous one), then keep the newest --keep versions. The counter orders the versions, so two " +
    "in one second, or a clock set back, keep them apart; writers of the same file take turns through PATH.lock.",
  examples: [
    "coffer versions reports/status.md --keep 7                      # keep what it holds now as a version",
    "make-report | coffer versions reports/status.md --from - --keep 7",
    "coffer versions coverage.json --from new-coverage.json --keep 5 --archive-dir jsons/archive",
  ],
  arguments: [{ name: "<path>", description: "the file" }],
  options: [
    { flags: "--keep <n>", description: "versions kept (default 7)", parse: integer },
    { flags: "--archive-dir <dir>", description: "where versions go (default: archive next to PATH)" },
    { flags: "--from <file>", description: "new content for PATH, from a file or - for standard input" },
  ],
  run: (ctx, args, opts) => runVersions(ctx, args[0] as string, opts),
});

async function runVersions(ctx: Context, path: string, opts: VersionsFlags): Promise<void> {
  const common = {
    now: ctx.clock(),
    keep: opts.keep ?? 7,
    onWarning: (w: { message: string }) => printWarning(ctx, w.message),
    ...(opts.archiveDir !== undefined ? { archiveDir: resolve(opts.archiveDir) } : {}),
  };
  let res: WriteVersionedResult;
  if (opts.from !== undefined) {
    const data = await (opts.from === "-" ? readStdin() : readFile(opts.from)).catch((err: unknown) => {
      throw ioError(err, `reading ${opts.from === "-" ? "standard input" : opts.from}`);
    });
    res = await writeVersioned(path, data, common);
  } else {
    res = await saveVersion(path, common);
  }
  if (ctx.options.json) return printJson(ctx, res);
  const show = (p: string): string => (relative(process.cwd(), p).startsWith("..") ? p : relative(process.cwd(), p));
  if (res.archived) printLine(ctx, `${opts.from !== undefined ? "wrote " + show(res.path) + "; the previous content is" : show(res.path) + " kept as"} ${show(res.archived)}`);
  else printLine(ctx, `wrote ${show(res.path)} (new file, no previous content)`);
  for (const d of res.versions) {
    if (d.keep) printVerbose(ctx, `kept ${basename(d.item.path)} (${d.reasons.join("; ")})`);
    else if (res.removed.includes(d.item.path)) printLine(ctx, `deleted ${basename(d.item.path)} (${d.reasons.join("; ")})`);
  }
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) throw new CofferError("USAGE", "--from - reads the new content from standard input; pipe it in.");
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
