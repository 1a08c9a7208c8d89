import { join, resolve } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { git } from "./git-status.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import { writeFileAtomic } from "./stage-file.js";

const MARK = "# coffer bak hook";

export interface InstallBakHookOptions {
  /** How the hook runs coffer, as a shell command prefix; default `coffer`. */
  command?: string;
  fs?: RotateFs;
}

export interface InstallBakHookResult {
  hook: string;
  /** `created`: a new hook; `appended`: added to an existing one; `present`: it was already there. */
  status: "created" | "appended" | "present";
  /** Said when the existing hook may stop before the appended lines run. */
  warning: string | undefined;
}

/**
 * Installs a git post-commit hook that runs `coffer bak clean --committed` at the top of the
 * work tree after each commit. It never fails a commit (a post-commit hook cannot stop one, and
 * the line ends in `|| true` so a hook under `set -e` goes on). An existing hook is kept: the
 * lines are appended to it, once (a marker comment makes a second install a no-op). The hooks
 * folder is git's own (`core.hooksPath` is honoured).
 */
export async function installBakHook(repoDir: string, opts: InstallBakHookOptions = {}): Promise<InstallBakHookResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const dir = resolve(repoDir);
  const r = await git(dir, ["rev-parse", "--git-path", "hooks"]);
  if (r.status !== 0) throw new CofferError("INVALID", `${dir} is not in a git repository (${r.stderr.trim().split("\n")[0] ?? "git failed"}); run the command inside one.`, { path: dir });
  const hooks = resolve(dir, r.stdout.trim());
  const hook = join(hooks, "post-commit");
  const command = opts.command ?? "coffer";
  const block = [
    MARK,
    "# Removes .bak copies of files whose content is now committed; never fails the commit.",
    `${command} bak clean --committed --quiet "$(git rev-parse --show-toplevel)" || true`,
    "",
  ].join("\n");
  let existing: string | undefined;
  let mode = 0o755;
  try {
    existing = await fs.readFile(hook, "utf8");
    mode = ((await fs.stat(hook)).mode & 0o7777) | 0o111;
  } catch (err) {
    if (sysCode(err) !== "ENOENT") throw ioError(err, `reading ${hook}`);
  }
  if (existing?.includes(MARK)) return { hook, status: "present", warning: undefined };
  const text = existing === undefined ? `#!/bin/sh\n${block}` : `${existing}${existing.endsWith("\n") || existing === "" ? "" : "\n"}\n${block}`;
  // An `exit` at the top level of the old hook would end it before the appended lines.
  const warning =
    existing !== undefined && /^exit\b/m.test(existing)
      ? `${hook} has an "exit" line; if it runs, the appended clean does not. Move the coffer lines above it.`
      : undefined;
  try {
    await fs.mkdir(hooks, { recursive: true });
    await writeFileAtomic(fs, hook, text, { mode });
  } catch (err) {
    throw ioError(err, `writing ${hook}`);
  }
  return { hook, status: existing === undefined ? "created" : "appended", warning };
}
