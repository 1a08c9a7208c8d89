import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CofferError } from "../../core/errors.js";
import { enableCommands, installingUser, installUnit, serviceUnit, uninstallUnit, unitPath } from "../../daemon/service-unit.js";
import { stateHome } from "../../daemon/state.js";
import { defineCommand } from "../command.js";
import { cliConfigFile } from "../config-file.js";
import { printInfo, printJson, printLine } from "../output.js";

interface InstallOpts {
  user?: boolean;
  name: string;
  dryRun?: boolean;
  force?: boolean;
}

const installCommand = defineCommand<InstallOpts>({
  name: "install",
  summary: "write a systemd unit that runs coffer daemon for this configuration",
  description:
    "Write a systemd unit running 'coffer --config FILE daemon' for the configuration (./coffer.yaml, $XDG_CONFIG_HOME/coffer/" +
    "coffer.yaml, or --config FILE): with --user in ~/.config/systemd/user/ (runs while you are logged in, or always after " +
    "'loginctl enable-linger'), else in /etc/systemd/system/ (needs root; runs as the installing user). It prints the unit and " +
    "the systemctl commands that start it; --dry-run prints without writing. Password sources that read environment variables " +
    "can get them from the unit's EnvironmentFile (daemon.env beside coffer's state).",
  examples: ["coffer service install --user", "coffer --config ~/app/coffer.yaml service install --user --name coffer-app", "sudo coffer --config /etc/coffer/coffer.yaml service install", "coffer service install --user --dry-run"],
  options: [
    { flags: "--user", description: "a user unit (~/.config/systemd/user) instead of a system one" },
    { flags: "--name <name>", description: "the unit's name", default: "coffer" },
    { flags: "-n, --dry-run", description: "print the unit, write nothing" },
    { flags: "--force", description: "replace a unit file of that name that coffer did not write" },
  ],
  async run(ctx, _args, opts) {
    const config = cliConfigFile(ctx);
    if (config === undefined) throw new CofferError("NOT_FOUND", "No configuration to run: write one with coffer config init, or name it with --config FILE.");
    const user = opts.user === true;
    const path = unitPath(opts.name, user, ctx.env);
    const runAs = user ? undefined : installingUser();
    const environmentFile = join(stateHome(user ? ctx.env : runAs ? { HOME: runAs.home } : ctx.env), "daemon.env");
    const text = serviceUnit({ config: resolve(config), node: process.execPath, coffer: cofferScript(), user, ...(runAs ? { runAs } : {}), environmentFile });
    const commands = enableCommands(opts.name, user);
    if (!opts.dryRun) await installUnit(path, text, { force: opts.force === true });
    if (ctx.options.json) return printJson(ctx, { path, written: !opts.dryRun, unit: text, commands });
    printInfo(ctx, opts.dryRun ? `would write ${path}:` : `wrote ${path}:`);
    printLine(ctx, text.trimEnd());
    printInfo(ctx, "");
    printInfo(ctx, `${opts.dryRun ? "then" : "now"} start it:`);
    for (const c of commands) printInfo(ctx, `  ${c}`);
    printInfo(ctx, `environment variables for password sources go in ${environmentFile} (VAR=value lines, mode 0600)`);
  },
});

const uninstallCommand = defineCommand<{ user?: boolean; name: string; dryRun?: boolean }>({
  name: "uninstall",
  summary: "remove the systemd unit that service install wrote",
  description: "Remove the unit coffer service install wrote (stop and disable it first with the systemctl commands printed). Files coffer did not write are left alone.",
  examples: ["systemctl --user disable --now coffer && coffer service uninstall --user", "coffer service uninstall --user --name coffer-app"],
  options: [
    { flags: "--user", description: "the user unit (~/.config/systemd/user)" },
    { flags: "--name <name>", description: "the unit's name", default: "coffer" },
    { flags: "-n, --dry-run", description: "say what would be removed" },
  ],
  async run(ctx, _args, opts) {
    const user = opts.user === true;
    const path = unitPath(opts.name, user, ctx.env);
    const sc = user ? "systemctl --user" : "sudo systemctl";
    const removed = opts.dryRun ? false : await uninstallUnit(path);
    if (ctx.options.json) return printJson(ctx, { path, removed, dryRun: opts.dryRun === true });
    if (opts.dryRun) printLine(ctx, `would remove ${path}`);
    else if (removed) {
      printLine(ctx, `removed ${path}`);
      printInfo(ctx, `if it was running: ${sc} disable --now ${opts.name}.service; then ${sc} daemon-reload`);
    } else printLine(ctx, `there is no unit ${path}; nothing to remove`);
  },
});

export const serviceCommand = defineCommand({
  name: "service",
  summary: "install or remove a systemd unit running the daemon",
  examples: ["coffer service install --user", "coffer service uninstall --user"],
  subcommands: [installCommand, uninstallCommand],
});

/** coffer's bin script: the one this process runs, else the package's. */
function cofferScript(): string {
  const argv1 = process.argv[1];
  if (argv1 !== undefined && /^coffer(\.js)?$/.test(basename(argv1))) {
    try {
      return realpathSync(argv1);
    } catch {
      return resolve(argv1);
    }
  }
  // This module sits in dist/src/cli/commands/ or in dist/bundle/: bin/coffer.js is in the
  // first directory above it that has one.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = dirname(dir); up !== dir; dir = up, up = dirname(dir)) {
    const candidate = join(dir, "bin", "coffer.js");
    if (existsSync(candidate)) return candidate;
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../../../bin/coffer.js");
}
