import { existsSync } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { detectProject, type ProjectFacts } from "../../config/detect.js";
import { configError } from "../../config/issues.js";
import { backendKind } from "../../config/backend-kind.js";
import { starterConfig, type StarterOptions } from "../../config/starter.js";
import type { PasswordSource } from "../../config/types.js";
import { checkDuration, checkTimeOfDay } from "../../config/values.js";
import { CofferError, ioError, sysCode } from "../../core/errors.js";
import { collect, defineCommand, integer, InvalidArgumentError } from "../command.js";
import type { Context } from "../context.js";
import { printInfo, printLine } from "../output.js";
import { createDefaultPasswordFile } from "../password.js";

interface InitOpts {
  name?: string;
  path: string[];
  exclude: string[];
  database: string[];
  every?: string;
  at?: string;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  passwordEnv?: string;
  detect: boolean;
  force?: boolean;
  print?: boolean;
  yes?: boolean;
}

const checked = (check: (v: string) => string | undefined) => (v: string) => {
  const problem = check(v);
  if (problem !== undefined) throw new InvalidArgumentError(`${problem}.`);
  return v;
};

export const configInitCommand = defineCommand<InitOpts>({
  name: "init",
  summary: "write a commented starter coffer.yaml for a folder",
  description:
    "Write DIR/coffer.yaml (DIR: the current folder by default): one repository, the folder's files as a source, its SQLite " +
    "databases (found by their header) as a sqlite source, a retention policy, and backup, prune and check jobs, with the other " +
    "sections commented out. On a terminal it asks, offering what it found; otherwise the flags and defaults decide. The " +
    "repository is -r (default ~/.local/share/coffer/NAME) and its password --password-file, --password-command or " +
    "--password-env (default a new random password in ~/.config/coffer/NAME.password, created if missing).",
  examples: [
    "coffer config init                                   # asks on a terminal",
    "coffer config init ~/my-app --yes                    # take every default",
    "coffer -r /mnt/backup/app --password-file ~/.app-pass config init . --every 1d --at 01:00",
    "coffer config init --print --no-detect               # show the file, write nothing",
  ],
  arguments: [{ name: "[dir]", description: "the folder to configure (default the current one)" }],
  options: [
    { flags: "--name <name>", description: "the source's name (default the folder's name)" },
    { flags: "--path <path>", description: "what to back up, relative to DIR (repeatable; default .)", parse: collect, default: [] },
    { flags: "-e, --exclude <pattern>", description: "leave out paths matching a pattern (repeatable)", parse: collect, default: [] },
    { flags: "--database <file>", description: "a SQLite database to copy consistently (repeatable; found ones are added)", parse: collect, default: [] },
    { flags: "--every <duration>", description: "back up when the last backup is older than this (default 1d)", parse: checked(checkDuration) },
    { flags: "--at <HH:MM>", description: "check at this time of day (with --every)", parse: checked(checkTimeOfDay) },
    { flags: "--keep-daily <n>", description: "daily snapshots kept (default 7)", parse: integer },
    { flags: "--keep-weekly <n>", description: "weekly snapshots kept (default 4)", parse: integer },
    { flags: "--keep-monthly <n>", description: "monthly snapshots kept (default 6)", parse: integer },
    { flags: "--password-env <var>", description: "the repository password comes from this environment variable" },
    { flags: "--no-detect", description: "do not look for databases, logs and ignore files" },
    { flags: "-f, --force", description: "replace an existing coffer.yaml" },
    { flags: "--print", description: "print the file on stdout instead of writing it" },
    { flags: "-y, --yes", description: "ask nothing, even on a terminal" },
  ],
  async run(ctx, args, opts) {
    const dir = resolve(args[0] ?? ".");
    await checkDir(dir);
    const target = join(dir, "coffer.yaml");
    if (!opts.print && !opts.force && existsSync(target)) throw new CofferError("INVALID", `${target} already exists; check it with "coffer config validate", or replace it with --force.`, { file: target });
    const facts: ProjectFacts = opts.detect ? await detectProject(dir) : { databases: [], logs: [], ignoreFiles: [], excludes: [] };
    const name = sanitize(opts.name ?? basename(dir));
    const url = ctx.options.repo ?? `~/.local/share/coffer/${name}`;
    const defaultPasswordFile = `~/.config/coffer/${name}.password`;
    const password: PasswordSource =
      ctx.options.passwordCommand !== undefined
        ? { command: ctx.options.passwordCommand }
        : ctx.options.passwordFile !== undefined
          ? { file: ctx.options.passwordFile }
          : opts.passwordEnv !== undefined
            ? { env: opts.passwordEnv }
            : { file: defaultPasswordFile };
    const o: StarterOptions = {
      dir,
      name,
      repository: { name: backendKind(url) === "local" ? "local" : backendKind(url), url, password },
      paths: opts.path.length > 0 ? opts.path : ["."],
      excludes: [...new Set([...facts.excludes, ...opts.exclude])],
      ignoreFiles: facts.ignoreFiles,
      excludeCaches: true,
      databases: [...new Set([...facts.databases, ...opts.database])],
      logs: facts.logs,
      every: opts.every ?? "1d",
      ...(opts.at !== undefined ? { at: opts.at } : {}),
      policy: { daily: opts.keepDaily ?? 7, weekly: opts.keepWeekly ?? 4, monthly: opts.keepMonthly ?? 6 },
    };
    if (ctx.stdinIsTTY && !opts.print && !opts.yes) await ask(ctx, o, facts);
    const text = starterConfig(o);
    const { checkConfigText } = await import("../../config/load.js");
    const { issues } = checkConfigText(text, { file: target, env: ctx.env });
    if (issues.length > 0) throw configError(issues, target);
    if (opts.print) {
      ctx.stdout.write(text);
      return;
    }
    try {
      await writeFile(target, text, { flag: opts.force ? "w" : "wx", mode: 0o644 });
    } catch (err) {
      if (sysCode(err) === "EEXIST") throw new CofferError("INVALID", `${target} already exists; replace it with --force.`, { file: target });
      throw ioError(err, `writing ${target}`);
    }
    const pw = o.repository.password;
    if (pw !== undefined && "file" in pw && pw.file === defaultPasswordFile) {
      const file = join(ctx.env.HOME !== undefined && ctx.env.HOME !== "" ? ctx.env.HOME : homedir(), pw.file.slice(2));
      if (!existsSync(file)) {
        await createDefaultPasswordFile(file);
        printInfo(ctx, `created a password for the repository in ${file}; keep a copy somewhere safe: without it the backups cannot be restored.`);
      }
    }
    printLine(ctx, `wrote ${target}`);
    const next: [string, string][] = [
      [`coffer -r ${o.repository.name} init`, "create the repository"],
      [`coffer backup --source ${name}`, "a first snapshot"],
      ["coffer daemon", "run the jobs on their schedule"],
    ];
    const width = Math.max(...next.map(([c]) => c.length)) + 2;
    printLine(ctx, "next:");
    for (const [c, why] of next) printLine(ctx, `  ${c.padEnd(width)}# ${why}`);
  },
});

async function checkDir(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new CofferError("INVALID", `${dir} is not a folder; name the folder to configure.`, { path: dir });
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `${dir} does not exist.`, { path: dir });
    throw ioError(err, `reading ${dir}`);
  }
}

function sanitize(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return s === "" ? "data" : s;
}

/** The questions on a terminal; an empty answer takes the default shown in brackets. */
async function ask(ctx: Context, o: StarterOptions, facts: ProjectFacts): Promise<void> {
  const q = async (question: string, def: string, check?: (v: string) => string | undefined): Promise<string> => {
    for (let i = 0; i < 3; i++) {
      const a = ((await ctx.readLine(`${question} [${def}]: `)) ?? "").trim();
      const v = a === "" ? def : a;
      const problem = check?.(v);
      if (problem === undefined) return v;
      ctx.stderr.write(`  ${problem}\n`);
    }
    throw new CofferError("USAGE", `No usable answer to "${question}"; run again, or give it as a flag.`);
  };
  o.paths = (await q("What to back up (paths relative to the folder, comma-separated)", o.paths.join(", "))).split(",").map((s) => s.trim()).filter(Boolean);
  o.repository.url = await q("Repository location (a path, or s3:, sftp:, rest: URL)", o.repository.url);
  o.repository.name = backendKind(o.repository.url) === "local" ? "local" : backendKind(o.repository.url);
  const kind = await q("Password from a file, env (variable) or command", "file", (v) => (["file", "env", "command"].includes(v) ? undefined : "answer file, env or command"));
  const current = o.repository.password;
  if (kind === "file") o.repository.password = { file: await q("Password file", current !== undefined && "file" in current ? current.file : `~/.config/coffer/${o.name}.password`) };
  else if (kind === "env") o.repository.password = { env: await q("Environment variable", "COFFER_PASSWORD") };
  else o.repository.password = { command: await q("Command that prints the password", "pass show coffer") };
  o.every = await q("Back up when the last backup is older than", o.every, checkDuration);
  if (facts.databases.length > 0) {
    const yes = await q(`Found SQLite database${facts.databases.length === 1 ? "" : "s"} ${facts.databases.join(", ")}; copy them consistently as a sqlite source (y/n)`, "y", (v) => (/^(y|yes|n|no)$/i.test(v) ? undefined : "answer y or n"));
    if (/^n/i.test(yes)) o.databases = o.databases.filter((d) => !facts.databases.includes(d));
  }
}
