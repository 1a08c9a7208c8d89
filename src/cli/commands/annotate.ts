import { type Annotation, annotate, formatRetentionOverride, parseRetentionOverride, rewriteSnapshots } from "../../ops/rewrite-snapshot.js";
import type { RetentionOverride } from "../../snapshot/snapshot.js";
import { defineCommand, InvalidArgumentError } from "../command.js";
import { openRepo } from "../open-repo.js";
import { warningPrinter } from "../output.js";
import { printRewrites } from "./tag.js";

interface AnnotateFlags {
  label?: string;
  description?: string;
  keep?: RetentionOverride | null;
}

export const annotateCommand = defineCommand<AnnotateFlags>({
  name: "annotate",
  summary: "set a snapshot's label, description or retention override",
  description:
    "Change what a snapshot says about itself: its label, its description, and its retention override, which forget obeys " +
    "whatever the policy: permanent (never forgotten by a policy), until:DATE (kept until the end of that day, or that " +
    "time), days:N (kept N days from when it was taken), until-verified (a pre-change snapshot kept until its change is " +
    "verified), none (the policy decides). An empty --label or --description removes it. The snapshot gets a new id " +
    "(its file is rewritten; the first id it had is kept as \"original\").",
  examples: [
    'coffer annotate latest --label "before the migration" --keep permanent',
    "coffer annotate 1a2b3c4d --keep until:2027-01-31",
    "coffer annotate 1a2b3c4d --keep days:90 --description \"quarterly audit\"",
    "coffer annotate 1a2b3c4d --keep none --label \"\"",
  ],
  arguments: [{ name: "<snapshot>", description: "snapshot id, unique prefix or latest" }],
  options: [
    { flags: "--label <label>", description: "a human name for the snapshot (\"\" removes it)" },
    { flags: "--description <text>", description: "free text (\"\" removes it)" },
    { flags: "--keep <override>", description: "retention override: permanent, until:DATE, days:N, until-verified or none", parse: keepArg },
  ],
  async run(ctx, refs, opts) {
    const a: Annotation = {};
    if (opts.label !== undefined) a.label = opts.label;
    if (opts.description !== undefined) a.description = opts.description;
    if (opts.keep !== undefined) a.retention = opts.keep;
    const change = annotate(a);
    const repo = await openRepo(ctx);
    try {
      const results = await rewriteSnapshots(repo, refs, change, { onWarning: warningPrinter(ctx) });
      printRewrites(ctx, results, (r) => {
        const s = r.snapshot;
        return [s.label !== undefined ? `label ${JSON.stringify(s.label)}` : "no label", `keep ${formatRetentionOverride(s.retention)}`, ...(s.description !== undefined ? [`description ${JSON.stringify(s.description)}`] : [])].join(", ");
      });
    } finally {
      await repo.close();
    }
  },
});

function keepArg(value: string): RetentionOverride | null {
  try {
    return parseRetentionOverride(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}
