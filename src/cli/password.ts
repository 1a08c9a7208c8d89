/**
 * Where the repository password comes from. First match wins:
 *
 *   1. --password-command   (run through the shell; its stdout is the password)
 *   2. --password-file
 *   3. COFFER_PASSWORD_COMMAND
 *   4. COFFER_PASSWORD_FILE
 *   5. COFFER_PASSWORD
 *   6. the generated password file, for the default repository only
 *   7. a prompt without echo, when stdin is a terminal
 *
 * Flags beat the environment, so a one-off `--password-file` is not overridden by a
 * COFFER_PASSWORD_COMMAND exported in the shell profile. (restic refuses a file together
 * with a command; coffer takes the first by this order instead.)
 *
 * A password read from a command or a file loses one trailing newline (`\n` or `\r\n`) and a
 * UTF-8 BOM, nothing else: spaces can be part of a password. An empty password is refused.
 * Nothing here is resolved until a command asks (see `Context.password`), so `coffer version`
 * never runs a password command.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { link, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** Where `coffer backup DIR` puts its repository when none is named. */
export function defaultRepoLocation(env: Env): string {
  return join(xdgDir(env, "XDG_DATA_HOME", ".local/share"), "coffer", "default");
}

/** The generated password of the default repository. */
export function defaultPasswordFile(env: Env): string {
  return join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "coffer", "default.password");
}

function xdgDir(env: Env, name: string, fallback: string): string {
  const v = env[name];
  // The XDG spec says relative values are invalid and must be ignored.
  if (v !== undefined && v !== "" && v.startsWith("/")) return v;
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  return join(home, fallback);
}

export type PasswordSource = "command" | "file" | "env" | "default-file" | "prompt";

export interface ResolvedPassword {
  password: string;
  source: PasswordSource;
  /** The file read or created, for file sources. */
  file?: string;
  /** True when the default password file was created by this call: tell the user once. */
  created?: boolean;
}

export interface PasswordRequest {
  /** Values given on the command line (these beat the environment). */
  flags: { passwordCommand?: string | undefined; passwordFile?: string | undefined };
  env: Env;
  /** The repository in use is the default one, so its generated password file counts. */
  defaultRepository: boolean;
  /** Create the default password file when missing: only when creating the default repository. */
  createDefault?: boolean;
  /** Named in error messages. */
  repository?: string;
  /** Asks without echo; undefined when stdin is not a terminal. */
  prompt?: (question: string) => Promise<string>;
  signal?: AbortSignal;
}

export async function resolvePassword(req: PasswordRequest): Promise<ResolvedPassword> {
  const { flags, env } = req;
  const command = nonEmpty(flags.passwordCommand);
  if (command !== undefined) return { password: await runPasswordCommand(command, env, req.signal), source: "command" };
  const file = nonEmpty(flags.passwordFile);
  if (file !== undefined) return { password: await readPasswordFile(file), source: "file", file };
  const envCommand = nonEmpty(env.COFFER_PASSWORD_COMMAND);
  if (envCommand !== undefined) return { password: await runPasswordCommand(envCommand, env, req.signal), source: "command" };
  const envFile = nonEmpty(env.COFFER_PASSWORD_FILE);
  if (envFile !== undefined) return { password: await readPasswordFile(envFile), source: "file", file: envFile };
  const envPassword = nonEmpty(env.COFFER_PASSWORD);
  if (envPassword !== undefined) return { password: envPassword, source: "env" };

  let missingDefault: string | undefined;
  if (req.defaultRepository) {
    const path = defaultPasswordFile(env);
    if (existsSync(path)) return { password: await readPasswordFile(path), source: "default-file", file: path };
    if (req.createDefault) return { password: await createDefaultPasswordFile(path), source: "default-file", file: path, created: true };
    missingDefault = path;
  }

  if (req.prompt !== undefined) {
    const where = req.repository !== undefined ? ` ${req.repository}` : "";
    const password = await req.prompt(`enter password for repository${where}: `);
    if (password === "") throw new CofferError("NO_PASSWORD", "An empty password is not allowed; enter the repository's password.");
    return { password, source: "prompt" };
  }
  if (missingDefault !== undefined) {
    throw new CofferError(
      "NO_PASSWORD",
      `The password file of the default repository, ${missingDefault}, is missing; restore it from your copy or give the password with --password-file.`,
      { file: missingDefault },
    );
  }
  const where = req.repository !== undefined ? ` for ${req.repository}` : "";
  throw new CofferError(
    "NO_PASSWORD",
    `No password given${where}; use --password-file, --password-command or COFFER_PASSWORD, or run on a terminal to be asked.`,
  );
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

function stripOneNewline(s: string): string {
  const noBom = s.startsWith("\uFEFF") ? s.slice(1) : s;
  if (noBom.endsWith("\r\n")) return noBom.slice(0, -2);
  if (noBom.endsWith("\n")) return noBom.slice(0, -1);
  return noBom;
}

export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") {
      throw new CofferError("NO_PASSWORD", `The password file ${path} does not exist; check --password-file or COFFER_PASSWORD_FILE.`, { file: path }, { cause: err });
    }
    throw ioError(err, `reading the password file ${path}`);
  }
  const password = stripOneNewline(text);
  if (password === "") throw new CofferError("NO_PASSWORD", `The password file ${path} is empty; write the password into it.`, { file: path });
  return password;
}

/**
 * Runs `command` through the shell, as restic users expect (`--password-command "pass show x"`).
 * stdin and stderr stay the terminal's so the command can ask for a PIN or a touch.
 */
export function runPasswordCommand(command: string, env: Env, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, env: { ...env }, stdio: ["inherit", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    const onAbort = (): void => {
      child.kill("SIGTERM");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", (err) => {
      signal?.removeEventListener("abort", onAbort);
      reject(new CofferError("NO_PASSWORD", `The password command could not be started (${err.message}); check --password-command.`, {}, { cause: err }));
    });
    child.on("close", (code, sig) => {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) {
        reject(new CofferError("INTERRUPTED", "Interrupted while running the password command."));
        return;
      }
      if (code !== 0) {
        const how = code !== null ? `exit status ${code}` : `signal ${sig ?? "?"}`;
        reject(new CofferError("NO_PASSWORD", `The password command failed (${how}); run it by hand to see why: ${command}`, { exitCode: code }));
        return;
      }
      const password = stripOneNewline(Buffer.concat(chunks).toString("utf8"));
      if (password === "") {
        reject(new CofferError("NO_PASSWORD", `The password command printed nothing; it must print the password on stdout: ${command}`));
        return;
      }
      resolve(password);
    });
  });
}

/**
 * Creates the default repository's password: 32 random bytes, base64url, one line, mode 0600,
 * in a directory made 0700. Written to a temporary file, fsynced, then hard-linked into place
 * and the directory fsynced: like rename it is atomic, but unlike rename it never replaces a
 * file another coffer process created a moment earlier — that password may already guard a
 * repository. If one exists, its password is returned instead.
 */
export async function createDefaultPasswordFile(path: string): Promise<string> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError(err, `creating ${dir}`);
  }
  const password = randomBytes(32).toString("base64url");
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(password + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
    } catch (err) {
      const code = sysCode(err);
      if (code === "EEXIST") return await readPasswordFile(path);
      // Some filesystems (FAT, some network mounts) have no hard links.
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
      if (existsSync(path)) return await readPasswordFile(path);
      await rename(tmp, path);
    }
    await syncDir(dir);
    return password;
  } catch (err) {
    throw ioError(err, `creating the password file ${path}`);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch (err) {
    // Some platforms cannot fsync a directory; the file itself is already durable.
    if (sysCode(err) !== "EINVAL" && sysCode(err) !== "EISDIR" && sysCode(err) !== "EPERM") throw err;
  } finally {
    await fh.close();
  }
}

export interface PromptIO {
  input: NodeJS.ReadStream;
  /** Where the question goes: stderr, so stdout stays clean for data. */
  write: (s: string) => void;
  signal?: AbortSignal;
}

/**
 * Reads a line from a terminal without echo. Raw mode turns Ctrl-C into a character rather
 * than a signal, so it is handled here (as an interruption).
 */
export function promptHidden(question: string, io: PromptIO): Promise<string> {
  return new Promise((resolve, reject) => {
    const { input } = io;
    const wasRaw = input.isRaw;
    let value: string[] = [];
    const finish = (err?: CofferError): void => {
      input.off("data", onData);
      io.signal?.removeEventListener("abort", onAbort);
      input.setRawMode?.(wasRaw);
      input.pause();
      io.write("\n");
      if (err !== undefined) reject(err);
      else resolve(value.join(""));
    };
    const onAbort = (): void => finish(new CofferError("INTERRUPTED", "Interrupted while reading the password."));
    const onData = (chunk: Buffer | string): void => {
      const chars = [...(typeof chunk === "string" ? chunk : chunk.toString("utf8"))];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i] ?? "";
        if (ch === "\r" || ch === "\n") {
          // Typed-ahead or pasted input after Enter belongs to the next reader (a retry prompt).
          let rest = chars.slice(i + 1).join("");
          if (ch === "\r" && rest.startsWith("\n")) rest = rest.slice(1);
          finish();
          if (rest !== "") input.unshift(Buffer.from(rest, "utf8"));
          return;
        }
        if (ch === "\u0003") return onAbort();
        if (ch === "\u0004") {
          if (value.length === 0) return finish(new CofferError("NO_PASSWORD", "No password was entered; enter the repository's password."));
          continue;
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch === "\u0015") value = [];
        else if (ch >= " ") value.push(ch);
      }
    };
    if (io.signal?.aborted) {
      reject(new CofferError("INTERRUPTED", "Interrupted while reading the password."));
      return;
    }
    io.signal?.addEventListener("abort", onAbort, { once: true });
    io.write(question);
    input.setRawMode?.(true);
    input.on("data", onData);
    input.resume();
  });
}
