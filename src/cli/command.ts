/**
 * A command is data plus one `run` function; `defineCommand` gives it a type and
 * `attachCommand` turns it into a commander subcommand. Parsing, help, usage errors and exit
 * codes are handled by main, so `run` only does the work and prints the result.
 */
import { CommanderError, InvalidArgumentError, type Command } from "commander";
import type { Context } from "./context.js";

export { InvalidArgumentError } from "commander";

export interface ArgumentSpec {
  /** Commander syntax: `<snapshot>` required, `[target]` optional, `<paths...>` variadic. */
  name: string;
  description: string;
}

export interface OptionSpec {
  /** Commander syntax: `-n, --dry-run`, `--keep-last <n>`, `--tag <tag>`. */
  flags: string;
  description: string;
  default?: string | number | boolean | string[];
  /**
   * Turns the text into a value; `previous` is the value so far (for repeatable options).
   * Throw `InvalidArgumentError` for a bad value: it becomes a usage error (exit 2).
   */
  parse?: (value: string, previous: any) => unknown;
  choices?: readonly string[];
  /** Long names of options this one cannot be combined with (without the dashes, camelCase). */
  conflicts?: string | string[];
  hidden?: boolean;
}

/** What `run` may return: nothing (exit 0) or an exit code chosen without an error (`health`). */
export type RunResult = void | number;

export interface CommandSpec<O = Record<string, any>> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs for `coffer <name> --help`; defaults to the summary. */
  description?: string;
  /** Full command lines, shown under "Examples:" in --help; add a `# comment` to explain. */
  examples: string[];
  arguments?: ArgumentSpec[];
  options?: OptionSpec[];
  aliases?: string[];
  /** For command groups such as `key add|list|remove`. */
  subcommands?: CommandSpec<any>[];
  /**
   * `opts` also holds the parent commands' options. Commander gives an option that a parent
   * and its subcommand both declare to the parent (`bak --keep` and `bak clean --keep`), so
   * such a subcommand reads it from there. The parent's option should have no default.
   */
  inheritOptions?: boolean;
  /**
   * The work. `args` are the positional values in order (a variadic one flattened in),
   * `opts` the command's own options, camelCased. Global options are in `ctx.options`.
   * Required for a command without subcommands.
   */
  run?: (ctx: Context, args: string[], opts: O) => Promise<RunResult> | RunResult;
}

export function defineCommand<O = Record<string, any>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** Parser for integer options: `{ flags: "--keep-last <n>", parse: integer }`. */
export function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError("Not an integer.");
  return Number.parseInt(value, 10);
}

/** Parser for repeatable options: `{ flags: "--tag <tag>", parse: collect, default: [] }`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A commander parse error with the command it belongs to, so main can point at its --help. */
export class CommandLineError extends Error {
  readonly exitCode: number;
  readonly commanderCode: string;
  constructor(
    err: CommanderError,
    readonly commandPath: string,
  ) {
    super(err.message.replace(/^error: /, ""), { cause: err });
    this.name = "CommandLineError";
    this.exitCode = err.exitCode;
    this.commanderCode = err.code;
  }
}

/** Calls the spec's run with a context; main supplies it (it owns contexts and exit codes). */
export type Invoke = (spec: CommandSpec<any>, command: Command, path: string, args: string[], opts: Record<string, unknown>) => Promise<void>;

/** Adds `spec` as a subcommand of `parent`, recursively. */
export function attachCommand(parent: Command, spec: CommandSpec<any>, invoke: Invoke, parentPath = ""): Command {
  const path = parentPath === "" ? spec.name : `${parentPath} ${spec.name}`;
  // `.command()` copies output, help and exit settings from the parent.
  const cmd = parent.command(spec.name).summary(spec.summary).description(spec.description ?? spec.summary);
  cmd.exitOverride((err) => {
    throw new CommandLineError(err, path);
  });
  for (const a of spec.aliases ?? []) cmd.alias(a);
  for (const a of spec.arguments ?? []) cmd.argument(a.name, a.description);
  for (const o of spec.options ?? []) cmd.addOption(buildOption(cmd, o));
  if (spec.examples.length > 0) {
    cmd.addHelpText("after", `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}\n`);
  }
  for (const sub of spec.subcommands ?? []) attachCommand(cmd, sub, invoke, path);
  const run = spec.run;
  if (run !== undefined) {
    cmd.action(async (...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const args = self.processedArgs.flatMap((a: unknown) => (a === undefined ? [] : Array.isArray(a) ? (a as string[]) : [String(a)]));
      await invoke(spec, self, path, args, spec.inheritOptions === true ? self.optsWithGlobals() : self.opts());
    });
  }
  return cmd;
}

function buildOption(cmd: Command, o: OptionSpec) {
  const opt = cmd.createOption(o.flags, o.description);
  if (o.parse !== undefined) opt.argParser(o.parse);
  if (o.default !== undefined) opt.default(o.default);
  if (o.choices !== undefined) opt.choices(o.choices);
  if (o.conflicts !== undefined) opt.conflicts(o.conflicts);
  if (o.hidden === true) opt.hideHelp();
  return opt;
}
