/**
 * A command's standard output, streamed into a file (pg_dump, mysqldump, anything). The output
 * goes straight to disk with back-pressure, so its size is bounded by the disk, not by memory;
 * the file is then backed up like any other. Staging it in a file rather than piping it into
 * the packer lets the command's exit status decide before anything is written to the
 * repository: a command that fails half-way leaves no snapshot behind.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { CofferError, ioError } from "../core/errors.js";

export interface CommandOutputOptions {
  cwd?: string;
  /** The whole environment of the command. */
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Each piece of the command's standard error, as it comes (for logs). */
  onStderr?: (text: string) => void;
  /** Named in error messages: "the command of source pg". */
  what?: string;
}

export interface CommandOutputResult {
  bytes: number;
  /** The end of what the command wrote to standard error (at most 4 KiB). */
  stderr: string;
}

const STDERR_TAIL = 4096;

/** Runs `command` (a string through `sh -c`, a list directly) with its stdout written to `dest` (created, mode 0600). */
export async function runCommandToFile(command: string | readonly string[], dest: string, opts: CommandOutputOptions = {}): Promise<CommandOutputResult> {
  const what = opts.what ?? "the command";
  const shown = typeof command === "string" ? command : command.join(" ");
  if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", `Interrupted before ${what} ran; no snapshot was saved.`);
  const env = { ...(opts.env ?? process.env) };
  const child =
    typeof command === "string"
      ? spawn(command, { shell: true, cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] })
      : spawn(command[0] ?? "", command.slice(1), { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s: string) => {
    stderr = (stderr + s).slice(-STDERR_TAIL);
    opts.onStderr?.(s);
  });
  const onAbort = (): void => void child.kill("SIGTERM");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, sig) => resolve({ code, sig }));
  });
  let bytes = 0;
  child.stdout.on("data", (c: Buffer) => void (bytes += c.length));
  try {
    const out = createWriteStream(dest, { flags: "wx", mode: 0o600 });
    // Settles with the write error, if any, so that it is never an unhandled rejection while the command runs.
    const copied: Promise<CofferError | undefined> = pipeline(child.stdout, out).then(
      () => undefined,
      (err: unknown) => {
        child.kill("SIGTERM");
        return ioError(err, `writing the output of ${what} to ${dest}`);
      },
    );
    let status: { code: number | null; sig: NodeJS.Signals | null };
    try {
      status = await exited;
    } catch (err) {
      await copied;
      throw new CofferError("IO", `${cap(what)} could not be started (${(err as Error).message}): ${shown}`, { command: shown }, { cause: err });
    }
    const writeError = await copied;
    if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", `Interrupted while ${what} ran; no snapshot was saved.`);
    if (writeError !== undefined) throw writeError;
    if (status.code !== 0) {
      const how = status.code !== null ? `exit status ${status.code}` : `signal ${status.sig ?? "?"}`;
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      throw new CofferError("IO", `${cap(what)} failed (${how})${tail !== "" ? `: ${tail}` : ""}; no snapshot was saved. Run it by hand to see why: ${shown}`, {
        command: shown,
        exitCode: status.code,
        signal: status.sig,
        stderr,
      });
    }
    return { bytes, stderr };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
