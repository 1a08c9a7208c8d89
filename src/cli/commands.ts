/**
 * Every command of the CLI, in the order `coffer --help` lists them.
 *
 * Adding a command
 * ----------------
 * 1. Create `src/cli/commands/<name>.ts` exporting `defineCommand({...})` from `../command.js`:
 *    name, summary, description, examples (full command lines, shown in --help), arguments,
 *    options, and `run(ctx, args, opts)`. Groups (`key add|list`) use `subcommands`.
 * 2. Import it below and add it to `commands`: one line each.
 * 3. In `run`: get the repository from `ctx.repository` and the password from
 *    `await ctx.password()`; pass `ctx.signal` and `ctx.progress()` to long operations;
 *    print the result with `printLine`/`printJson` and problems with `printWarning`
 *    (`./output.js`); throw `CofferError` for failures — never print errors or set exit codes,
 *    main maps the error code to the exit code (`./exit-codes.js`).
 * 4. Do not reuse the global flags (-r/--repo, --password-file, --password-command, --json,
 *    -q/--quiet, -v/--verbose, --debug, --no-progress, --config, --cache-dir, --no-cache) as
 *    command options.
 */
import type { CommandSpec } from "./command.js";
import { annotateCommand } from "./commands/annotate.js";
import { backupCommand } from "./commands/backup.js";
import { bakCommand } from "./commands/bak.js";
import { cacheCommand } from "./commands/cache.js";
import { changeCommand } from "./commands/change.js";
import { catCommand } from "./commands/cat.js";
import { checkCommand } from "./commands/check.js";
import { configCommand } from "./commands/config.js";
import { copyCommand } from "./commands/copy.js";
import { daemonCommand } from "./commands/daemon.js";
import { diffCommand } from "./commands/diff.js";
import { dumpCommand } from "./commands/dump.js";
import { exportCommand } from "./commands/export.js";
import { forgetCommand } from "./commands/forget.js";
import { healthCommand } from "./commands/health.js";
import { importCommand } from "./commands/import.js";
import { initCommand } from "./commands/init.js";
import { keyCommand } from "./commands/key.js";
import { lsCommand } from "./commands/ls.js";
import { preChangeCommand } from "./commands/pre-change.js";
import { pruneCommand } from "./commands/prune.js";
import { recordsCommand } from "./commands/records.js";
import { repairCommand } from "./commands/repair.js";
import { restoreCommand } from "./commands/restore.js";
import { revisionCommand } from "./commands/revision.js";
import { rollbackCommand } from "./commands/rollback.js";
import { rotateCommand } from "./commands/rotate.js";
import { serviceCommand } from "./commands/service.js";
import { snapshotsCommand } from "./commands/snapshots.js";
import { statsCommand } from "./commands/stats.js";
import { statusCommand } from "./commands/status.js";
import { tagCommand } from "./commands/tag.js";
import { unlockCommand } from "./commands/unlock.js";
import { verifyArchiveCommand } from "./commands/verify-archive.js";
import { versionCommand } from "./commands/version.js";
import { versionsCommand } from "./commands/versions.js";

export const commands: readonly CommandSpec<any>[] = [
  initCommand,
  backupCommand,
  snapshotsCommand,
  restoreCommand,
  preChangeCommand,
  changeCommand,
  revisionCommand,
  rollbackCommand,
  forgetCommand,
  pruneCommand,
  tagCommand,
  annotateCommand,
  checkCommand,
  copyCommand,
  repairCommand,
  lsCommand,
  diffCommand,
  dumpCommand,
  exportCommand,
  verifyArchiveCommand,
  importCommand,
  statsCommand,
  catCommand,
  keyCommand,
  unlockCommand,
  cacheCommand,
  configCommand,
  rotateCommand,
  bakCommand,
  recordsCommand,
  versionsCommand,
  daemonCommand,
  statusCommand,
  healthCommand,
  serviceCommand,
  versionCommand,
];
