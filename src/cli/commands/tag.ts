import { shortId } from "../../core/hex.js";
import { changeTags, type RewriteResult, rewriteSnapshots } from "../../ops/rewrite-snapshot.js";
import { collect, defineCommand } from "../command.js";
import type { Context } from "../context.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";

interface TagFlags {
  add: string[];
  remove: string[];
  set?: string[];
}

export const tagCommand = defineCommand<TagFlags>({
  name: "tag",
  summary: "add, remove or replace the tags of snapshots",
  description:
    "Change the tags of the snapshots named, as restic's tag command does: --set replaces all tags (--set \"\" clears them), " +
    "then --add adds and --remove removes. Each option takes a tag or a comma-separated list and may be repeated. A snapshot " +
    "whose tags change gets a new id (its file is rewritten; the first id it had is kept as \"original\").",
  examples: ["coffer tag latest --add keep", "coffer tag 1a2b3c4d 5e6f7a8b --remove nightly --add weekly", 'coffer tag 1a2b3c4d --set release,v2   # exactly these tags', 'coffer tag 1a2b3c4d --set ""            # no tags'],
  arguments: [{ name: "<snapshots...>", description: "snapshot ids, unique prefixes or latest" }],
  options: [
    { flags: "--add <tag[,tag]>", description: "add these tags (repeatable)", parse: collect, default: [] },
    { flags: "--remove <tag[,tag]>", description: "remove these tags (repeatable)", parse: collect, default: [] },
    { flags: "--set <tag[,tag]>", description: "replace all tags with these (repeatable; \"\" for none)", parse: collect },
  ],
  async run(ctx, refs, opts) {
    const change = changeTags({ add: opts.add, remove: opts.remove, ...(opts.set !== undefined ? { set: opts.set } : {}) });
    const repo = await openRepo(ctx);
    try {
      const results = await rewriteSnapshots(repo, refs, change, { onWarning: warningPrinter(ctx) });
      printRewrites(ctx, results, (r) => (r.snapshot.tags.length > 0 ? `tags ${r.snapshot.tags.join(",")}` : "no tags"));
    } finally {
      await repo.close();
    }
  },
});

/** Prints the outcome of metadata rewrites: one line each, or JSON. */
export function printRewrites(ctx: Context, results: RewriteResult[], what: (r: RewriteResult) => string): void {
  if (ctx.options.json) {
    printJson(
      ctx,
      results.map((r) => ({ id: r.id, new_id: r.newId, changed: r.changed, snapshot: { ...r.snapshot, short_id: shortId(r.snapshot.id) } })),
    );
    return;
  }
  for (const r of results) {
    if (r.changed) printLine(ctx, `snapshot ${shortId(r.id)} is now ${shortId(r.newId)}: ${what(r)}`);
    else printLine(ctx, `snapshot ${shortId(r.id)} unchanged: ${what(r)}`);
  }
  const n = results.filter((r) => r.changed).length;
  printLine(ctx, `changed ${n} of ${results.length} snapshot${results.length === 1 ? "" : "s"}`);
}
