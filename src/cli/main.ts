/**
 * The CLI entry: builds the commander program from `commands.ts`, runs one invocation, and is
 * the one place where errors are printed and turned into exit codes.
 *
 * Signals: the first SIGINT/SIGTERM aborts `ctx.signal` and the command winds down; a second
 * one exits 130 at once (after flushing stdout/stderr). Once a signal has arrived the exit
 * code is 130 whatever the command does afterwards, as with restic: a command that stops
 * early by checking `signal.aborted` must not look like a success to a script.
 */
import { Command } from "commander";
import { isCofferError } from "../core/errors.js";
import { PROGRAM } from "../core/version.js";
import { attachCommand, CommandLineError, type CommandSpec, type Invoke } from "./command.js";
import { commands } from "./commands.js";
import { resolveRepository } from "./config-file.js";
import { addGlobalOptions, colorEnabled, createContext, globalOptionsFrom, processIO, type CliIO, type Writer } from "./context.js";
import { ExitCode, exitCodeFor } from "./exit-codes.js";
import { tuneProcessMemory } from "./process-memory.js";

type SignalName = "SIGINT" | "SIGTERM";

export interface MainIO extends CliIO {
  /** Where SIGINT/SIGTERM come from; `process` by default. */
  signals?: { on(sig: SignalName, fn: () => void): unknown; off(sig: SignalName, fn: () => void): unknown };
  /** Ends the process at once (second signal); flushes and calls process.exit by default. */
  exitNow?: (code: number) => void;
}

/** Runs `coffer <argv>` and sets `process.exitCode`. */
export async function main(argv: string[], io: MainIO = processIO()): Promise<void> {
  tuneProcessMemory();
  process.exitCode = await runCli(argv, io);
}

/**
 * Runs one invocation and returns its exit code; prints nothing but through `io`.
 * `commandList` defaults to `commands.ts` (tests pass their own).
 */
export async function runCli(argv: string[], io: MainIO, commandList: readonly CommandSpec<any>[] = commands): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  let closeContext: (() => void) | undefined;
  let debug = argv.includes("--debug");
  let result: number = ExitCode.OK;

  const signals = io.signals ?? process;
  const exitNow = io.exitNow ?? flushAndExit;
  const onSignal = (sig: SignalName): void => {
    interrupts++;
    if (interrupts === 1) {
      closeContext?.();
      io.stderr.write(`coffer: ${sig === "SIGINT" ? "interrupted" : "terminated"}; stopping (press Ctrl-C again to quit at once)\n`);
      controller.abort();
    } else {
      closeContext?.();
      exitNow(ExitCode.INTERRUPTED);
    }
  };
  const onInt = (): void => onSignal("SIGINT");
  const onTerm = (): void => onSignal("SIGTERM");
  signals.on("SIGINT", onInt);
  signals.on("SIGTERM", onTerm);

  const invoke: Invoke = async (spec, command, path, args, opts) => {
    const options = globalOptionsFrom(command.optsWithGlobals(), io.env);
    debug = options.debug;
    const repository = await resolveRepository(options, io.env);
    const { ctx, close } = createContext({ io, options, command: path, signal: controller.signal, repository });
    closeContext = close;
    try {
      const code = await spec.run?.(ctx, args, opts);
      if (typeof code === "number") result = code;
    } finally {
      close();
    }
  };

  try {
    await buildProgram(io, commandList, invoke).parseAsync(argv, { from: "user" });
  } catch (err) {
    result = reportError(err, { stderr: io.stderr, debug, aborted: controller.signal.aborted, color: colorEnabled(io.env, io.stderrIsTTY) });
  } finally {
    signals.off("SIGINT", onInt);
    signals.off("SIGTERM", onTerm);
  }
  return controller.signal.aborted ? ExitCode.INTERRUPTED : result;
}

function buildProgram(io: CliIO, commandList: readonly CommandSpec<any>[], invoke: Invoke): Command {
  const program = new Command("coffer");
  program
    .description("Encrypted, deduplicated, verified backups, with retention and rotation.")
    .usage("[options] <command> [arguments]")
    .exitOverride((err) => {
      throw new CommandLineError(err, "");
    })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Usage errors are printed by reportError, with the hint.
      outputError: () => {},
      getOutHelpWidth: () => (io.stdoutIsTTY ? (io.columns?.() ?? 80) : 80),
      getErrHelpWidth: () => (io.stderrIsTTY ? (io.columns?.() ?? 80) : 80),
      getOutHasColors: () => colorEnabled(io.env, io.stdoutIsTTY),
      getErrHasColors: () => colorEnabled(io.env, io.stderrIsTTY),
    })
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .version(PROGRAM, "-V, --version", "print the version and exit")
    .addHelpText(
      "after",
      [
        "",
        "Environment:",
        "  COFFER_REPOSITORY        repository location, as -r",
        "  COFFER_PASSWORD          the repository password",
        "  COFFER_PASSWORD_FILE     as --password-file",
        "  COFFER_PASSWORD_COMMAND  as --password-command",
        "  COFFER_CACHE_DIR         as --cache-dir: where remote repositories are cached",
        "  NO_COLOR, FORCE_COLOR    turn colour off or on",
        "",
        "Exit codes: 0 ok, 1 error, 2 usage, 3 partial backup, 10 repository missing,",
        "11 lock held, 12 wrong password, 130 interrupted.",
        "",
        "Run 'coffer <command> --help' for the options and examples of a command.",
        "",
      ].join("\n"),
    );
  addGlobalOptions(program);
  for (const spec of commandList) attachCommand(program, spec, invoke);
  return program;
}

interface ReportOptions {
  stderr: Writer;
  debug: boolean;
  aborted: boolean;
  color: boolean;
}

/** Prints `err` the one way errors are printed and returns its exit code. */
function reportError(err: unknown, o: ReportOptions): number {
  const say = (line: string): void => o.stderr.write(`${o.color ? "\x1b[31mcoffer:\x1b[0m" : "coffer:"} ${line}\n`);
  if (err instanceof CommandLineError) {
    // --help and --version end parsing through the same path, with exit code 0.
    if (err.exitCode === 0) return ExitCode.OK;
    // `coffer` alone: commander has already printed the help to stderr.
    if (err.commanderCode === "commander.help") return ExitCode.USAGE;
    say(err.message);
    o.stderr.write(`Run 'coffer ${err.commandPath === "" ? "" : err.commandPath + " "}--help' for usage.\n`);
    return ExitCode.USAGE;
  }
  const code = exitCodeFor(err, o.aborted);
  if (code === ExitCode.INTERRUPTED && !isCofferError(err, "INTERRUPTED")) {
    // Whatever broke while tearing down after the signal is noise; --debug still shows it.
    say("interrupted");
  } else if (isCofferError(err)) {
    say(err.message);
    if (err.code === "USAGE") o.stderr.write("Run 'coffer --help' or 'coffer <command> --help' for usage.\n");
  } else {
    say(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    if (!o.debug) o.stderr.write("Run with --debug for details.\n");
  }
  if (o.debug) o.stderr.write(debugDetails(err));
  return code;
}

/** Stack, error data and the chain of causes, for --debug. */
function debugDetails(err: unknown): string {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 8; depth++) {
    if (depth > 0) out.push("caused by:");
    if (e instanceof Error) {
      out.push(e.stack ?? `${e.name}: ${e.message}`);
      if (isCofferError(e)) out.push(`code: ${e.code}${Object.keys(e.data).length > 0 ? ` data: ${JSON.stringify(e.data)}` : ""}`);
      e = e.cause;
    } else {
      out.push(String(e));
      e = undefined;
    }
  }
  return out.join("\n") + "\n";
}

function flushAndExit(code: number): void {
  process.stdout.write("", () => {
    process.stderr.write("", () => process.exit(code));
  });
}
