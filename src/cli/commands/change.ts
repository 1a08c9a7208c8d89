import { shortId } from "../../core/hex.js";
import { retireChange, verifyChange } from "../../ops/pre-change.js";
import type { RewriteResult } from "../../ops/rewrite-snapshot.js";
import { defineCommand } from "../command.js";
import type { Context } from "../context.js";
import { openRepo } from "../open-repo.js";
import { printJson, printLine } from "../output.js";

const verifyCommand = defineCommand<{ by?: string }>({
  name: "verify",
  summary: "mark the change of a pre-change snapshot verified",
  description:
    "Record that the change a pre-change snapshot was taken before has been verified (by whom and when). From then on the " +
    "snapshot is no longer protected: the retention policy decides how long it stays. The snapshot file is rewritten, so its id changes.",
  examples: ["coffer change verify 4f2a9c1e", 'coffer change verify 4f2a9c1e --by "alice (QA)"', "coffer change verify 4f2a9c1e --json"],
  arguments: [{ name: "<snapshot>", description: "the pre-change snapshot (id or unique prefix)" }],
  options: [{ flags: "--by <name>", description: "who verified it (default: the current user)" }],
  async run(ctx, [ref], opts) {
    const repo = await openRepo(ctx);
    try {
      report(ctx, await verifyChange(repo, ref ?? "", { ...(opts.by ? { by: opts.by } : {}), now: ctx.clock() }));
    } finally {
      await repo.close();
    }
  },
});

const retireCommand = defineCommand({
  name: "retire",
  summary: "mark the change of a pre-change snapshot retired",
  description:
    "Record that a pre-change snapshot's change was abandoned or is no longer worth a guarantee: the snapshot loses its " +
    "protection and the retention policy decides. The snapshot file is rewritten, so its id changes.",
  examples: ["coffer change retire 4f2a9c1e", "coffer change retire 4f2a9c1e --json"],
  arguments: [{ name: "<snapshot>", description: "the pre-change snapshot (id or unique prefix)" }],
  async run(ctx, [ref]) {
    const repo = await openRepo(ctx);
    try {
      report(ctx, await retireChange(repo, ref ?? "", { now: ctx.clock() }));
    } finally {
      await repo.close();
    }
  },
});

function report(ctx: Context, r: RewriteResult): void {
  const c = r.snapshot.change;
  if (ctx.options.json) {
    printJson(ctx, { id: r.id, new_id: r.newId, changed: r.changed, change: c });
    return;
  }
  const who = c?.status === "verified" ? ` by ${c.verified_by ?? "?"} at ${c.verified_at ?? "?"}` : "";
  if (!r.changed) printLine(ctx, `snapshot ${shortId(r.id)}: the change was already ${c?.status ?? "?"}${who}`);
  else printLine(ctx, `snapshot ${shortId(r.id)}: change ${c?.status ?? "?"}${who}; the snapshot's id is now ${shortId(r.newId)}`);
}

export const changeCommand = defineCommand({
  name: "change",
  summary: "verify or retire the change of a pre-change snapshot",
  description: 'Pre-change snapshots ("coffer pre-change") stay protected while their change is pending; these commands end that.',
  examples: ["coffer change verify 4f2a9c1e --by alice", "coffer change retire 4f2a9c1e", "coffer snapshots --pending"],
  subcommands: [verifyCommand, retireCommand],
});
