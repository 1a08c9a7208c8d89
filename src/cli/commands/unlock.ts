import { shortId } from "../../core/hex.js";
import { removeLocks } from "../../repository/lock.js";
import { defineCommand } from "../command.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine } from "../output.js";

export const unlockCommand = defineCommand<{ removeAll?: boolean }>({
  name: "unlock",
  summary: "remove stale locks",
  description:
    "Remove the locks left by processes that are gone: a lock is stale when it has not been refreshed for 30 minutes, or " +
    "when it was taken on this host by a process that no longer runs. With --remove-all every lock goes, live ones too: " +
    "only do that when you know no other coffer process is using the repository.",
  examples: ["coffer unlock", "coffer unlock --remove-all      # also locks of running processes", "coffer unlock --json"],
  options: [{ flags: "--remove-all", description: "remove every lock, not only stale ones" }],
  async run(ctx, _args, opts) {
    const repo = await openRepo(ctx);
    try {
      const removed = await removeLocks(repo, opts.removeAll === true);
      if (ctx.options.json) {
        printJson(ctx, { removed });
        return;
      }
      for (const id of removed) printLine(ctx, `removed lock ${shortId(id)}`);
      printLine(ctx, removed.length === 0 ? "no stale locks" : `${removed.length} lock${removed.length === 1 ? "" : "s"} removed`);
    } finally {
      await repo.close();
    }
  },
});
