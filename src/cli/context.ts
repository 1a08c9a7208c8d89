/**
 * The per-invocation context a command's `run` receives: global options (flags merged with
 * the environment), the output streams, terminal facts, the clock, the abort signal, the
 * repository location, and the password (resolved only when asked for).
 *
 * Output rule: stdout carries the command's result (text, or one JSON document with --json);
 * everything about the run — progress, info, warnings, errors, prompts — goes to stderr.
 */
import type { Command } from "commander";
import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { CofferError } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { Warning } from "../core/warning.js";
import { resolvePasswordSource } from "../config/password.js";
import { type ConfiguredRepository, plainRepository, type RepositoryResolution } from "./config-file.js";
import { printWarning } from "./output.js";
import { promptHidden, resolvePassword, type Env } from "./password.js";
import { createProgressBar, type ProgressBar } from "./progress-bar.js";

export type { Env } from "./password.js";

export interface Writer {
  write(s: string): void;
}

/** What the process gives a run; tests pass fakes. */
export interface CliIO {
  stdout: Writer;
  stderr: Writer;
  env: Env;
  /** For the password prompt; used only when `stdinIsTTY`. */
  stdin?: NodeJS.ReadStream;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Terminal width of stderr, when it is a terminal. */
  columns?: () => number | undefined;
  clock: Clock;
}

export function processIO(): CliIO {
  // `coffer ls latest | head`: the reader went away; stop quietly, as Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
  return {
    stdout: { write: (s) => void process.stdout.write(s) },
    stderr: { write: (s) => void process.stderr.write(s) },
    env: process.env,
    stdin: process.stdin,
    stdinIsTTY: process.stdin.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    columns: () => process.stderr.columns,
    clock: systemClock,
  };
}

export interface GlobalOptions {
  /** -r/--repo, else COFFER_REPOSITORY; undefined means the default repository. */
  repo: string | undefined;
  passwordFile: string | undefined;
  passwordCommand: string | undefined;
  json: boolean;
  quiet: boolean;
  /** 0 normally; each -v adds one. */
  verbose: number;
  debug: boolean;
  /** False with --no-progress. */
  progress: boolean;
  /** --config, else COFFER_CONFIG; undefined: ./coffer.yaml, then $XDG_CONFIG_HOME/coffer/coffer.yaml. */
  config: string | undefined;
  /** --cache-dir, else COFFER_CACHE_DIR; undefined: $XDG_CACHE_HOME/coffer. */
  cacheDir: string | undefined;
  /** False with --no-cache: remote repositories are read without the local cache. */
  cache: boolean;
}

/** Declares the global options on the root command. Subcommands must not reuse these flags. */
export function addGlobalOptions(program: Command): void {
  program
    .option("-r, --repo <location>", "repository: a path, local:, s3:, sftp:, rest: or rclone: URL (env: COFFER_REPOSITORY)")
    .option("--password-file <file>", "read the repository password from a file (env: COFFER_PASSWORD_FILE)")
    .option("--password-command <command>", "run a shell command that prints the password (env: COFFER_PASSWORD_COMMAND)")
    .option("--json", "print the result as one JSON document on stdout")
    .option("-q, --quiet", "print only results, warnings and errors")
    .option("-v, --verbose", "print more about what is done (repeat for more)", (_: string, prev: number) => prev + 1, 0)
    .option("--debug", "print stack traces and internal details on errors")
    .option("--no-progress", "do not draw a progress bar")
    .option("--config <file>", "the configuration (default ./coffer.yaml, then $XDG_CONFIG_HOME/coffer/coffer.yaml; env: COFFER_CONFIG)")
    .option("--cache-dir <dir>", "where remote repositories are cached (default $XDG_CACHE_HOME/coffer, i.e. ~/.cache/coffer; env: COFFER_CACHE_DIR)")
    .option("--no-cache", "read a remote repository without the local cache");
}

/** Global options from commander's parsed values plus the environment. */
export function globalOptionsFrom(values: Record<string, unknown>, env: Env): GlobalOptions {
  const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  const opts: GlobalOptions = {
    repo: str(values.repo) ?? str(env.COFFER_REPOSITORY),
    // The password sources keep flags and environment apart: flags win (see password.ts).
    passwordFile: str(values.passwordFile),
    passwordCommand: str(values.passwordCommand),
    json: values.json === true,
    quiet: values.quiet === true,
    verbose: typeof values.verbose === "number" ? values.verbose : 0,
    debug: values.debug === true,
    progress: values.progress !== false,
    config: str(values.config) ?? str(env.COFFER_CONFIG),
    cacheDir: str(values.cacheDir) ?? str(env.COFFER_CACHE_DIR),
    cache: values.cache !== false,
  };
  if (opts.quiet && opts.verbose > 0) {
    throw new CofferError("USAGE", "--quiet and --verbose cannot be used together; choose one.");
  }
  return opts;
}

/** Colour for a stream: FORCE_COLOR wins (as in Node), then NO_COLOR, then "is a terminal". */
export function colorEnabled(env: Env, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return isTTY && env.TERM !== "dumb";
}

export interface RepositoryChoice {
  location: string;
  /** No repository was named: the default local one is used (and may be created). */
  isDefault: boolean;
  /** The repository's name in the configuration, when -r named one of its repositories (or it is its default). */
  name?: string;
}

export interface PasswordOptions {
  /** Create the default repository's password file when missing (only `init`/first backup). */
  createDefault?: boolean;
}

export interface Context {
  /** The command path, e.g. `snapshots` or `key add`. */
  readonly command: string;
  readonly options: GlobalOptions;
  readonly env: Env;
  /** Writes here hide the progress bar and draw it again afterwards. */
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly color: { readonly stdout: boolean; readonly stderr: boolean };
  readonly clock: Clock;
  /** Fires on the first SIGINT/SIGTERM; pass it to every long operation. */
  readonly signal: AbortSignal;
  readonly repository: RepositoryChoice;
  /**
   * The repository password, resolved on first call and then remembered. Throws NO_PASSWORD
   * (exit 1) when there is none. Prints once where a newly created default password is.
   */
  password(opts?: PasswordOptions): Promise<string>;
  /**
   * After WRONG_PASSWORD: another password to try. Asks again when the last one was typed at
   * the prompt (restic allows 3 tries on a terminal); undefined when nothing new can come.
   */
  passwordRetry(): Promise<string | undefined>;
  /** A progress bar on a terminal; a silent reporter otherwise. Call `done()` when finished. */
  progress(): Progress;
  /**
   * A problem no operation returns itself (a backend request being retried): printed at once as
   * a warning, and kept in `warnings` for a --json result (`jsonWarnings`).
   */
  warn(w: Warning): void;
  /** What `warn` was given so far, in order. */
  readonly warnings: readonly Warning[];
  /**
   * Asks a question on stderr and reads one line from stdin (without its line end); undefined
   * at end of input. Only when `stdinIsTTY`: commands must not wait for input otherwise.
   */
  readLine(question: string): Promise<string | undefined>;
}

export interface ContextInit {
  io: CliIO;
  options: GlobalOptions;
  command: string;
  signal: AbortSignal;
  /** The repository as the configuration has it (`resolveRepository`); default: -r as given, or the default one. */
  repository?: RepositoryResolution;
}

/** The context plus `close`, which main calls after the command to clear any leftover bar. */
export function createContext(init: ContextInit): { ctx: Context; close: () => void } {
  const { io, options, signal } = init;
  const bars = new Set<ProgressBar>();
  const around = (w: Writer): Writer => ({
    write(s) {
      for (const b of bars) b.hide();
      w.write(s);
      for (const b of bars) b.show();
    },
  });
  const stdout = around(io.stdout);
  const stderr = around(io.stderr);
  // A configuration that could not be read fails only a command that uses a repository.
  const resolution = init.repository ?? { repository: plainRepository(options, io.env) };
  const choose = (): ConfiguredRepository => {
    if ("error" in resolution) throw resolution.error;
    return resolution.repository;
  };
  let password: string | undefined;
  let prompted = false;
  const warnings: Warning[] = [];
  const stdin = io.stdinIsTTY ? io.stdin : undefined;
  const prompt: { prompt?: (q: string) => Promise<string> } =
    stdin !== undefined ? { prompt: (q) => promptHidden(q, { input: stdin, write: (s) => stderr.write(s), signal }) } : {};

  const ctx: Context = {
    command: init.command,
    options,
    env: io.env,
    stdout,
    stderr,
    stdinIsTTY: io.stdinIsTTY,
    stdoutIsTTY: io.stdoutIsTTY,
    stderrIsTTY: io.stderrIsTTY,
    color: { stdout: colorEnabled(io.env, io.stdoutIsTTY), stderr: colorEnabled(io.env, io.stderrIsTTY) },
    clock: io.clock,
    signal,
    get repository(): RepositoryChoice {
      const { location, isDefault, name } = choose();
      return { location, isDefault, ...(name !== undefined ? { name } : {}) };
    },
    async password(opts = {}) {
      if (password !== undefined) return password;
      const repository = choose();
      // A configured repository's own password source comes after the flags, before the environment.
      if (repository.passwordSource !== undefined && options.passwordCommand === undefined && options.passwordFile === undefined) {
        password = await resolvePasswordSource(repository.passwordSource, { env: io.env, signal, where: `repository ${repository.name ?? repository.location}` });
        return password;
      }
      const resolved = await resolvePassword({
        flags: { passwordCommand: options.passwordCommand, passwordFile: options.passwordFile },
        env: io.env,
        defaultRepository: repository.isDefault,
        createDefault: opts.createDefault ?? false,
        repository: repository.location,
        ...prompt,
        signal,
      });
      prompted = resolved.source === "prompt";
      if (resolved.created === true) {
        stderr.write(
          `coffer: created a password for the default repository in ${resolved.file ?? "?"}; ` +
            "keep a copy somewhere safe: without it these backups cannot be restored.\n",
        );
      }
      password = resolved.password;
      return password;
    },
    async passwordRetry() {
      if (!prompted || prompt.prompt === undefined) return undefined;
      password = undefined;
      const again = await prompt.prompt(`wrong password, try again for ${choose().location}: `);
      if (again === "") throw new CofferError("NO_PASSWORD", "An empty password is not allowed; enter the repository's password.");
      password = again;
      return again;
    },
    progress() {
      const bar = createProgressBar({
        write: (s) => io.stderr.write(s),
        enabled: io.stderrIsTTY && options.progress && !options.json && !options.quiet,
        clock: io.clock,
        ...(io.columns !== undefined ? { columns: io.columns } : {}),
      });
      bars.add(bar);
      return {
        update: (s) => bar.update(s),
        done: () => {
          bar.done();
          bars.delete(bar);
        },
      };
    },
    warn(w) {
      warnings.push(w);
      printWarning(ctx, w);
    },
    warnings,
    readLine(question) {
      if (stdin === undefined) return Promise.reject(new CofferError("USAGE", "This needs an answer typed at a terminal, and stdin is not one."));
      return readLine(question, stdin, (s) => stderr.write(s), signal);
    },
  };
  const close = (): void => {
    for (const b of bars) b.done();
    bars.clear();
  };
  return { ctx, close };
}

/** One line typed at the terminal (visible, unlike the password prompt). */
function readLine(question: string, input: NodeJS.ReadStream, write: (s: string) => void, signal: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const finish = (value: string | undefined, err?: CofferError): void => {
      input.off("data", onData);
      input.off("end", onEnd);
      signal.removeEventListener("abort", onAbort);
      input.pause();
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      buf += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      const nl = buf.search(/\r?\n/);
      if (nl < 0) return;
      const rest = buf.slice(nl).replace(/^\r?\n/, "");
      finish(buf.slice(0, nl));
      if (rest !== "") input.unshift(Buffer.from(rest, "utf8"));
    };
    const onEnd = (): void => finish(buf === "" ? undefined : buf);
    const onAbort = (): void => finish(undefined, new CofferError("INTERRUPTED", "Interrupted while waiting for an answer."));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    write(question);
    input.on("data", onData);
    input.on("end", onEnd);
    input.resume();
  });
}
