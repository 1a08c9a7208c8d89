import { basename, relative } from "node:path";
import { makeBak } from "../../rotate/bak.js";
import { cleanBaks, listBaks } from "../../rotate/bak-clean.js";
import { installBakHook } from "../../rotate/bak-hook.js";
import { restoreBak } from "../../rotate/bak-restore.js";
import { formatBytes } from "../../rotate/parse-byte-size.js";
import type { Warning } from "../../core/warning.js";
import { defineCommand, integer } from "../command.js";
import type { Context } from "../context.js";
import { renderTable } from "../format.js";
import { printJson, printLine, printVerbose, printWarning } from "../output.js";

/** A path as the user would type it from here. */
function show(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === "" ? "." : rel.startsWith("..") ? p : rel;
}

const warner = (ctx: Context) => (w: Warning) => printWarning(ctx, w.message);

const listCommand = defineCommand({
  name: "list",
  summary: "list files with .bak copies, with counts and sizes",
  description: "List every file with .bak copies in DIR and the folders below it (not .git or node_modules): how many copies, their total size, and the newest.",
  examples: ["coffer bak list", "coffer bak list src --json"],
  arguments: [{ name: "[dir]", description: "folder to search (default: the current one)" }],
  async run(ctx, args) {
    const groups = await listBaks(args[0] ?? ".");
    if (ctx.options.json) {
      printJson(ctx, groups.map((g) => ({ file: g.file, exists: g.exists, count: g.copies.length, bytes: g.bytes, copies: g.copies.map((c) => ({ path: c.path, time: c.named.toISOString(), tag: c.tag ?? null, size: c.size })) })));
      return;
    }
    if (groups.length === 0) return printLine(ctx, "no .bak copies");
    const rows = groups.map((g) => [show(g.file) + (g.exists ? "" : " (missing)"), String(g.copies.length), formatBytes(g.bytes), g.copies[0]?.name ?? ""]);
    ctx.stdout.write(renderTable([{ header: "File" }, { header: "Copies", align: "right" }, { header: "Size", align: "right" }, { header: "Newest" }], rows));
    const copies = groups.reduce((n, g) => n + g.copies.length, 0);
    printLine(ctx, `${groups.length} file${groups.length === 1 ? "" : "s"}, ${copies} cop${copies === 1 ? "y" : "ies"}, ${formatBytes(groups.reduce((n, g) => n + g.bytes, 0))}`);
  },
});

const restoreCommand = defineCommand<{ from?: string }>({
  name: "restore",
  summary: "put a .bak copy back in place of its file",
  description:
    "Put a .bak copy (the newest, or the one --from names) back in place of FILE. What FILE holds now is first kept as a copy of its own " +
    "(tagged pre-restore), so the restore can be undone; no copy is deleted.",
  examples: ["coffer bak restore app.py", "coffer bak restore app.py --from app.py.bak.20261120_143012"],
  arguments: [{ name: "<file>", description: "the file to restore" }],
  options: [{ flags: "--from <name>", description: "the copy to restore (name or path; default the newest)" }],
  async run(ctx, args, opts) {
    const res = await restoreBak(args[0] as string, { now: ctx.clock(), onWarning: warner(ctx), ...(opts.from !== undefined ? { from: opts.from } : {}) });
    if (ctx.options.json) return printJson(ctx, res);
    printLine(ctx, `restored ${show(res.file)} from ${basename(res.from)}${res.saved ? `; what it held is kept as ${basename(res.saved)}` : ""}`);
  },
});

const cleanCommand = defineCommand<{ committed?: boolean; dryRun?: boolean; keep?: number }>({
  name: "clean",
  summary: "delete old .bak copies (or those of committed files)",
  description:
    "Keep the newest --keep copies of each file in DIR and below (default 3) and delete the others. With --committed, only copies of files " +
    "whose current content is committed and unchanged in git are cleaned (all of them, unless --keep says otherwise); copies of modified, " +
    "staged, untracked or deleted files stay.",
  examples: ["coffer bak clean --dry-run", "coffer bak clean --committed          # after a commit: the copies are in git history", "coffer bak clean --keep 1 src"],
  arguments: [{ name: "[dir]", description: "folder to clean (default: the current one)" }],
  options: [
    { flags: "--committed", description: "only files committed and unchanged in git" },
    { flags: "-n, --dry-run", description: "say what would be deleted, delete nothing" },
    { flags: "--keep <n>", description: "copies kept per file (default 3, or 0 with --committed)", parse: integer },
  ],
  inheritOptions: true,
  async run(ctx, args, opts) {
    const res = await cleanBaks(args[0] ?? ".", {
      now: ctx.clock(),
      committed: opts.committed === true,
      dryRun: opts.dryRun === true,
      onWarning: warner(ctx),
      ...(opts.keep !== undefined ? { keep: opts.keep } : {}),
    });
    if (ctx.options.json) return printJson(ctx, res);
    for (const f of res.files) {
      if (f.skipped !== undefined) {
        printVerbose(ctx, `left ${f.copies.length} cop${f.copies.length === 1 ? "y" : "ies"} of ${show(f.file)} (${f.skipped})`);
        continue;
      }
      for (const d of f.copies) {
        if (d.keep) printVerbose(ctx, `kept ${show(d.item.path)} (${d.reasons.join("; ")})`);
        else printLine(ctx, `${res.dryRun ? "would delete" : "deleted"} ${show(d.item.path)} (${d.reasons.join("; ")})`);
      }
    }
    printLine(ctx, `${res.dryRun ? "dry run: " : ""}${res.removed.length} cop${res.removed.length === 1 ? "y" : "ies"} ${res.dryRun ? "would be " : ""}deleted`);
  },
});

const hookInstallCommand = defineCommand<{ command?: string }>({
  name: "install",
  summary: "install a git post-commit hook that runs bak clean --committed",
  description:
    "Add to the repository's post-commit hook a line that runs `coffer bak clean --committed` after each commit, so .bak copies go once " +
    "their file's content is in git. An existing hook is kept and the line appended (once); it ends in `|| true`, so it never fails a commit.",
  examples: ["coffer bak hook install", "coffer bak hook install ~/src/app --command 'npx coffer'"],
  arguments: [{ name: "[dir]", description: "a folder in the repository (default: the current one)" }],
  options: [{ flags: "--command <cmd>", description: "how the hook runs coffer (default: this coffer, by its full path)" }],
  async run(ctx, args, opts) {
    const res = await installBakHook(args[0] ?? ".", { command: opts.command ?? thisCoffer() });
    if (res.warning !== undefined) printWarning(ctx, res.warning);
    if (ctx.options.json) return printJson(ctx, res);
    const said = { created: "installed", appended: "appended to", present: "already in" }[res.status];
    printLine(ctx, `${said} ${show(res.hook)}`);
  },
});

/** The command line that started this coffer, quoted for sh; `coffer` when it cannot be told. */
function thisCoffer(): string {
  const script = process.argv[1];
  if (script === undefined || !/coffer|main\.js$/.test(basename(script))) return "coffer";
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `${q(process.execPath)} ${q(script)}`;
}

export const bakCommand = defineCommand<{ tag?: string; keep?: number }>({
  name: "bak",
  summary: "make .bak copies of files, and list, restore and clean them",
  description:
    "Make a copy FILE.bak.YYYYMMDD_HHMMSS[.TAG] next to each FILE before changing it (a counter is added when that name is taken; nothing " +
    "is overwritten), then keep the newest --keep copies of each file. A file named like a subcommand is given as ./list.",
  examples: ["coffer bak app.py config.yaml", "coffer bak app.py --tag abc12345 --keep 5", "coffer bak list", "coffer bak clean --committed"],
  arguments: [{ name: "<files...>", description: "files to copy" }],
  options: [
    { flags: "--tag <tag>", description: "text added to the copy's name (an artifact id, a reason)" },
    { flags: "--keep <n>", description: "copies kept per file, the new one included (default 3)", parse: integer },
  ],
  subcommands: [listCommand, restoreCommand, cleanCommand, defineCommand({ name: "hook", summary: "git hooks for .bak copies", examples: ["coffer bak hook install"], subcommands: [hookInstallCommand] })],
  async run(ctx, args, opts) {
    const res = await makeBak(args, { now: ctx.clock(), keep: opts.keep ?? 3, onWarning: warner(ctx), ...(opts.tag !== undefined ? { tag: opts.tag } : {}) });
    if (ctx.options.json) return printJson(ctx, res);
    for (const r of res) {
      printLine(ctx, `${show(r.file)} -> ${basename(r.bak)}`);
      for (const d of r.copies) if (r.removed.includes(d.item.path)) printLine(ctx, `  deleted ${basename(d.item.path)} (${d.reasons.join("; ")})`);
    }
  },
});
