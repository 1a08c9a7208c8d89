/**
 * A configured repository's password, from its source: an environment variable, a file, a
 * command, or (when the user wrote it there) the configuration itself. The password is never
 * part of an error message, and nothing here logs.
 *
 * As with --password-file and --password-command, a password read from a file or a command
 * loses one trailing newline (`\n` or `\r\n`) and a UTF-8 BOM, nothing else; an empty one is
 * refused.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { Env } from "./load.js";
import type { PasswordSource } from "./types.js";

export interface PasswordOptions {
  env?: Env;
  signal?: AbortSignal;
  /** Named in error messages: `repositories.offsite`. */
  where?: string;
}

export async function resolvePasswordSource(source: PasswordSource, opts: PasswordOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const where = opts.where ?? "the repository";
  if ("value" in source) return source.value;
  if ("env" in source) {
    const v = env[source.env];
    if (v === undefined || v === "") {
      throw new CofferError("NO_PASSWORD", `The password of ${where} comes from the environment variable ${source.env}, which is not set; export it, or change password: in the configuration.`, { env: source.env });
    }
    return v;
  }
  if ("file" in source) return readPassword(source.file, where);
  return runPassword(source.command, env, where, opts.signal);
}

/** How the source is shown by `config show` and in messages: the secret itself never. */
export function describePasswordSource(source: PasswordSource | undefined): string {
  if (source === undefined) return "none (asked at the terminal, or COFFER_PASSWORD)";
  if ("env" in source) return `environment variable ${source.env}`;
  if ("file" in source) return `file ${source.file}`;
  if ("command" in source) return `command ${source.command}`;
  return "written in the configuration";
}

function clean(s: string): string {
  const noBom = s.startsWith("\uFEFF") ? s.slice(1) : s;
  return noBom.endsWith("\r\n") ? noBom.slice(0, -2) : noBom.endsWith("\n") ? noBom.slice(0, -1) : noBom;
}

async function readPassword(file: string, where: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("NO_PASSWORD", `The password file of ${where}, ${file}, does not exist; create it or change password: in the configuration.`, { file });
    throw ioError(err, `reading the password file ${file}`);
  }
  const password = clean(text);
  if (password === "") throw new CofferError("NO_PASSWORD", `The password file of ${where}, ${file}, is empty; write the password into it.`, { file });
  return password;
}

/** Through the shell, stdin and stderr the terminal's (so it can ask for a PIN); stdout is the password. */
function runPassword(command: string, env: Env, where: string, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, env: { ...env }, stdio: ["inherit", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    const onAbort = (): void => void child.kill("SIGTERM");
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new CofferError("NO_PASSWORD", `The password command of ${where} could not be started (${err.message}); check password: command in the configuration.`, {}, { cause: err }));
    });
    child.on("close", (code, sig) => {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) return reject(new CofferError("INTERRUPTED", "Interrupted while running the password command."));
      if (code !== 0) {
        const how = code !== null ? `exit status ${code}` : `signal ${sig ?? "?"}`;
        return reject(new CofferError("NO_PASSWORD", `The password command of ${where} failed (${how}); run it by hand to see why: ${command}`, { exitCode: code }));
      }
      const password = clean(Buffer.concat(chunks).toString("utf8"));
      if (password === "") return reject(new CofferError("NO_PASSWORD", `The password command of ${where} printed nothing; it must print the password on stdout: ${command}`));
      resolve(password);
    });
  });
}
