import { CofferError } from "../../core/errors.js";
import { shortId } from "../../core/hex.js";
import { changePassword, listKeys, removeKey } from "../../repository/keys.js";
import { defineCommand } from "../command.js";
import type { Context } from "../context.js";
import { formatLocalTime, renderTable } from "../format.js";
import { kdfParams, openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";
import { promptHidden, readPasswordFile } from "../password.js";

interface NewPasswordOpts {
  newPasswordFile?: string;
}

const newPasswordOption = { flags: "--new-password-file <file>", description: "read the new password from a file (env: COFFER_NEW_PASSWORD holds it directly)" };

const listCommand = defineCommand({
  name: "list",
  summary: "list the keys of the repository",
  description: "List the key files of the repository, oldest first: id, user, host and creation time. The key used to open the repository is marked with *.",
  examples: ["coffer key list", "coffer key list --json"],
  async run(ctx) {
    const repo = await openRepo(ctx);
    try {
      const keys = await listKeys(repo);
      if (ctx.options.json) {
        printJson(ctx, keys.map((k) => ({ id: k.id, current: k.current, username: k.username, hostname: k.hostname, created: k.created })));
        return;
      }
      if (keys.length === 0) {
        printLine(ctx, "this repository is not encrypted and has no keys");
        return;
      }
      const rows = keys.map((k) => [`${k.current ? "*" : " "}${shortId(k.id)}`, k.username, k.hostname, formatLocalTime(new Date(k.created))]);
      ctx.stdout.write(renderTable([{ header: " ID" }, { header: "User" }, { header: "Host" }, { header: "Created" }], rows));
    } finally {
      await repo.close();
    }
  },
});

const addCommand = defineCommand<NewPasswordOpts>({
  name: "add",
  summary: "add a key (a new password) to the repository",
  description:
    "Add a key file that opens the repository with a new password; the existing keys keep working. The new password comes " +
    "from --new-password-file, COFFER_NEW_PASSWORD, or is asked twice on a terminal.",
  examples: ["coffer key add                                    # asks for the new password twice", "coffer key add --new-password-file ~/.coffer-ops-pass"],
  options: [newPasswordOption],
  async run(ctx, _args, opts) {
    const repo = await openRepo(ctx);
    try {
      const password = await newPassword(ctx, opts);
      const id = await repo.addKey(password, kdfParams(ctx));
      if (ctx.options.json) printJson(ctx, { id });
      else printLine(ctx, `saved new key as ${shortId(id)}`);
    } finally {
      await repo.close();
    }
  },
});

const removeCommand = defineCommand({
  name: "remove",
  summary: "remove a key from the repository",
  description:
    "Remove a key file, so its password no longer opens the repository. The key used to open the repository and the last " +
    "key are never removed. Takes an exclusive lock.",
  examples: ["coffer key remove 1a2b3c4d", "coffer key remove 1a2b3c4d --json"],
  aliases: ["rm"],
  arguments: [{ name: "<id>", description: "the key's id or a unique prefix (see coffer key list)" }],
  async run(ctx, args) {
    const [id] = args as [string];
    const repo = await openRepo(ctx);
    try {
      const removed = await removeKey(repo, id, { onWarning: warningPrinter(ctx) });
      if (ctx.options.json) printJson(ctx, { removed });
      else printLine(ctx, `removed key ${shortId(removed)}`);
    } finally {
      await repo.close();
    }
  },
});

const passwdCommand = defineCommand<NewPasswordOpts>({
  name: "passwd",
  summary: "change the password of the current key",
  description:
    "Replace the key used to open the repository with one for a new password: the new key is saved first, then the old one " +
    "removed, so the repository can always be opened. Other keys are not touched. Takes an exclusive lock.",
  examples: ["coffer key passwd", "COFFER_NEW_PASSWORD=... coffer key passwd --json"],
  options: [newPasswordOption],
  async run(ctx, _args, opts) {
    const repo = await openRepo(ctx);
    try {
      const password = await newPassword(ctx, opts);
      const r = await changePassword(repo, password, kdfParams(ctx), { onWarning: warningPrinter(ctx) });
      if (ctx.options.json) printJson(ctx, r);
      else printLine(ctx, `saved new key as ${shortId(r.added)} and removed the old key ${shortId(r.removed)}`);
    } finally {
      await repo.close();
    }
  },
});

export const keyCommand = defineCommand({
  name: "key",
  summary: "list, add, remove keys or change the password",
  description: "Manage the key files of an encrypted repository: each holds the master key, wrapped with one password.",
  examples: ["coffer key list", "coffer key add --new-password-file new.pass", "coffer key remove 1a2b3c4d", "coffer key passwd"],
  subcommands: [listCommand, addCommand, removeCommand, passwdCommand],
});

/** The new password: --new-password-file, COFFER_NEW_PASSWORD, or asked twice on a terminal. */
async function newPassword(ctx: Context, opts: NewPasswordOpts): Promise<string> {
  if (opts.newPasswordFile !== undefined) return readPasswordFile(opts.newPasswordFile);
  const env = ctx.env.COFFER_NEW_PASSWORD;
  if (env !== undefined && env !== "") return env;
  // The context offers no prompt of its own; a terminal on stdin is the process's.
  const input = process.stdin;
  if (!input.isTTY) {
    throw new CofferError("NO_PASSWORD", "No new password given; use --new-password-file or COFFER_NEW_PASSWORD, or run on a terminal to be asked.");
  }
  const io = { input, write: (s: string) => ctx.stderr.write(s), signal: ctx.signal };
  const first = await promptHidden("enter new password: ", io);
  if (first === "") throw new CofferError("NO_PASSWORD", "An empty password is not allowed; choose a password.");
  const again = await promptHidden("enter new password again: ", io);
  if (again !== first) throw new CofferError("NO_PASSWORD", "The passwords do not match; run the command again.");
  return first;
}
