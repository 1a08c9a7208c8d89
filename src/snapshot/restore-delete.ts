import { type BigIntStats, readdirSync } from "node:fs";
import type { FilterDecision } from "./restore-filter.js";
import { dirDisplay } from "./restore-plan.js";
import type { TargetWriter } from "./restore-target.js";
import { joinPath, lstatIfExists, removeEntry } from "./safe-path.js";
import { encodeName } from "./tree.js";

/**
 * `--delete`: in every directory the restore covers, entries the snapshot does not list are
 * removed when the filters select them (an excluded path is never removed). Only directories
 * at or below the snapshot's backed-up paths count: their parents ("/", "/srv" for a backup
 * of /srv/app) list just the way down, not what was beside it. Directories this restore made
 * hold nothing else and are skipped. With a `deleteFilter`, it decides too.
 */
export function deleteExtra(w: TargetWriter, backedUp: readonly string[]): void {
  const inside = (path: string): boolean => backedUp.some((p) => p === "/" || path === p || path.startsWith(p.endsWith("/") ? p : `${p}/`));
  const real: boolean[] = [];
  w.ctx.plan.dirs.forEach((d, i) => {
    const state = w.dirState(i);
    if (state === "fresh") {
      real.push(true); // made by this restore: holds nothing to delete
      return;
    }
    let isReal: boolean;
    if (i === 0 || d.materialize) isReal = state === "ok";
    else isReal = real[d.parent] === true && lstatIfExists(w.dirAbs(i))?.isDirectory() === true;
    real.push(isReal);
    const display = dirDisplay(w.ctx.plan, i);
    if (!isReal || !inside(w.ctx.plan.prefix + display || "/")) return;
    // Without the names, everything would look extra: a plan made without keepNames is a bug.
    if (!d.names) throw new Error("deleteExtra needs a plan built with keepNames");
    deleteIn(w, w.dirAbs(i), display, d.names, d.decision);
  });
}

function deleteIn(w: TargetWriter, dir: Buffer, display: string, names: Set<string>, decision: FilterDecision): void {
  let list: Buffer[];
  try {
    list = readdirSync(dir, { encoding: "buffer" });
  } catch (err) {
    w.error(dir.toString(), `${dir.toString()} could not be listed for --delete: ${(err as Error).message}`, "IO");
    return;
  }
  for (const name of list) {
    if (names.has(name.toString("latin1"))) continue;
    const abs = joinPath(dir, name);
    const st = lstatIfExists(abs);
    if (!st) continue;
    const path = `${display}/${encodeName(name).name}`;
    const d = w.ctx.filter.decide(path, st.isDirectory(), decision);
    if (d.selected && w.ctx.deleteFilter) {
      deleteFiltered(w, abs, st, w.ctx.deleteFilter);
    } else if (d.selected) {
      if (w.ctx.dryRun) w.action(abs, undefined, typeOf(st), "delete");
      else {
        try {
          removeEntry(abs, st);
        } catch (err) {
          w.error(abs.toString(), `${abs.toString()} could not be deleted: ${(err as Error).message}`, "IO");
          continue;
        }
      }
      w.ctx.result.deleted++;
    } else if (d.descend && st.isDirectory()) {
      deleteIn(w, abs, path, new Set(), d);
    }
  }
}

/** Removes `abs` if `allow` says so, a directory entry by entry; returns whether it is (would be) gone. */
function deleteFiltered(w: TargetWriter, abs: Buffer, st: BigIntStats, allow: (path: Buffer, stat: BigIntStats) => boolean): boolean {
  if (!allow(abs, st)) return false;
  if (st.isDirectory()) {
    let list: Buffer[];
    try {
      list = readdirSync(abs, { encoding: "buffer" });
    } catch (err) {
      w.error(abs.toString(), `${abs.toString()} could not be listed for --delete: ${(err as Error).message}`, "IO");
      return false;
    }
    let empty = true;
    for (const name of list) {
      const child = joinPath(abs, name);
      const cst = lstatIfExists(child);
      if (cst && !deleteFiltered(w, child, cst, allow)) empty = false;
    }
    if (!empty) return false;
  }
  if (w.ctx.dryRun) w.action(abs, undefined, typeOf(st), "delete");
  else {
    try {
      removeEntry(abs, st);
    } catch (err) {
      w.error(abs.toString(), `${abs.toString()} could not be deleted: ${(err as Error).message}`, "IO");
      return false;
    }
  }
  w.ctx.result.deleted++;
  return true;
}

function typeOf(st: BigIntStats): string {
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  return "other";
}
