import { repairIndex } from "../../ops/repair-index.js";
import { defineCommand } from "../command.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine, warningPrinter } from "../output.js";

const repairIndexCommand = defineCommand({
  name: "index",
  summary: "rebuild the index from the packs",
  description:
    "Read the header at the end of every pack and write a new index from them, then remove the old index files (the new " +
    "index is written first, so an interruption loses nothing). Use it when check reports damaged or missing index files.",
  examples: ["coffer repair index", "coffer repair index --json"],
  async run(ctx) {
    const repo = await openRepo(ctx);
    const progress = ctx.progress();
    try {
      const r = await repairIndex(repo, { progress, onWarning: warningPrinter(ctx), signal: ctx.signal });
      progress.done();
      if (ctx.options.json) printJson(ctx, r);
      else {
        printLine(ctx, `indexed ${r.blobsIndexed} blobs in ${r.packsIndexed} packs; wrote ${r.written.length} index files, removed ${r.removed.length}`);
        if (r.damagedPacks.length) printLine(ctx, `${r.damagedPacks.length} packs could not be read and were left out; run "coffer check --read-data"`);
      }
    } finally {
      progress.done();
      await repo.close();
    }
  },
});

export const repairCommand = defineCommand({
  name: "repair",
  summary: "repair a damaged repository",
  description: "Repair parts of a repository. Today: `coffer repair index` rebuilds the index from the pack headers.",
  examples: ["coffer repair index"],
  subcommands: [repairIndexCommand],
});
