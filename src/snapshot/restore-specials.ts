import { chmodSync, constants, lchownSync, linkSync, symlinkSync } from "node:fs";
import { CofferError } from "../core/errors.js";
import { makeFifo, type NativeFs, setTimes } from "./native.js";
import { overwriteAction } from "./overwrite-policy.js";
import type { PlanEntry } from "./restore-plan.js";
import type { TargetWriter } from "./restore-target.js";
import type { ActionKind } from "./restorer.js";
import { lstatIfExists, removeEntry } from "./safe-path.js";
import { linkTargetBytes, nsFromIso } from "./tree.js";

/**
 * The last entries a restore makes, once every file's content is written: hard links to files
 * restored earlier, then symlinks (so nothing is ever written through one of them), fifos and
 * device nodes. Each follows the overwrite policy like a file; in a dry run it is recorded.
 */
export function restoreLinksAndSpecials(w: TargetWriter): void {
  const { dryRun, result } = w.ctx;
  for (const { entry, primary } of w.links) {
    const abs = w.abs(entry.rel);
    const existing = w.existing(entry, abs);
    const prim = dryRun ? undefined : lstatIfExists(primary.abs);
    let action: ActionKind;
    if (existing && prim && existing.ino === prim.ino && existing.dev === prim.dev) action = "skip";
    else action = overwriteAction(existing, entry.node, abs, w.ctx.policy) === "skip" ? "skip" : existing ? "overwrite" : "create";
    w.filesDone++;
    if (dryRun) w.action(abs, entry.display, "hardlink", action);
    if (action === "skip") {
      result.filesSkipped++;
      continue;
    }
    if (!dryRun && (primary.job?.failed || (!primary.job && !primary.kept) || !prim?.isFile())) {
      w.error(abs.toString(), `${w.snapshotPath(entry.display)} was not restored: it is a hard link of ${primary.abs.toString()}, which was not restored.`, "IO");
      continue;
    }
    try {
      if (!dryRun) {
        if (existing) removeEntry(abs, existing);
        linkSync(primary.abs, abs);
      }
      result.filesRestored++;
    } catch (err) {
      w.error(abs.toString(), `The hard link ${abs.toString()} could not be made: ${(err as Error).message}`, "IO");
    }
  }
  for (const entry of w.deferred) special(w, entry);
  w.report();
}

function special(w: TargetWriter, entry: PlanEntry): void {
  const { dryRun, result, native, owners } = w.ctx;
  const node = entry.node;
  const abs = w.abs(entry.rel);
  const existing = w.existing(entry, abs);
  const action = overwriteAction(existing, node, abs, w.ctx.policy);
  const skip = (why: string): void => w.ctx.warn({ code: "SKIPPED", message: `${w.snapshotPath(entry.display)} (${node.type}) was not restored: ${why}`, path: abs.toString() });
  if (node.type === "socket") return skip("sockets are made by the programs that listen on them");
  if ((node.type === "dev" || node.type === "chardev") && !(owners && native)) return skip(owners ? "device nodes need the native addon" : "device nodes can only be made as root");
  if (dryRun) w.action(abs, entry.display, node.type, action);
  if (action === "skip") {
    result.filesSkipped++;
    return;
  }
  if (dryRun) {
    if (node.type === "symlink") result.symlinks++;
    else result.specials++;
    return;
  }
  try {
    if (existing) removeEntry(abs, existing);
    if (node.type === "symlink") {
      // The link text is restored as it was; it is never followed by the restore.
      symlinkSync(linkTargetBytes(node), abs);
      result.symlinks++;
    } else {
      if (node.type === "fifo") makeFifo(native, abs, node.mode & 0o7777);
      else (native as NativeFs).mknod(abs, (node.type === "dev" ? constants.S_IFBLK : constants.S_IFCHR) | (node.mode & 0o7777), BigInt(node.rdev ?? "0"));
      result.specials++;
    }
  } catch (err) {
    if (err instanceof CofferError && err.code === "UNSUPPORTED") return skip(err.message);
    w.error(abs.toString(), `${w.snapshotPath(entry.display)} could not be restored: ${(err as Error).message}`, "IO");
    return;
  }
  try {
    if (owners) lchownSync(abs, node.uid, node.gid);
    if (node.type !== "symlink") chmodSync(abs, node.mode & 0o7777);
    setTimes(native, abs, node.atime ? nsFromIso(node.atime) : undefined, nsFromIso(node.mtime));
  } catch (err) {
    w.error(abs.toString(), `The metadata of ${abs.toString()} could not be set: ${(err as Error).message}`, "IO");
  }
}
