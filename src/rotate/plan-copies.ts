import { join } from "node:path";
import { applyPolicy, type RetentionItem } from "../retention/index.js";
import { compareKeysDesc } from "./rotated-name.js";
import type { CopyDirs, CopyFile } from "./find-copies.js";
import type { ResolvedRule } from "./rule.js";

/** One step on the copies of a log. A copy both moved and compressed is compressed at `to`. */
export interface CopyStep {
  kind: "delete" | "move" | "compress";
  path: string;
  to?: string;
  reasons: string[];
}

interface Item extends RetentionItem {
  copy: CopyFile;
}

/**
 * What to do with the copies of one log, newest first: the newest `keep` belong in the backups
 * directory, the rest in the archive directory until `archiveMaxAge`/`archiveKeep` remove them
 * (the retention engine decides, with its reasons), or are deleted when there is no archive.
 * Kept copies older than `compressAfter` are compressed (never the newest with `delayCompress`).
 *
 * The order is the names' (number, or date then counter); a copy's time is its modification
 * time, held back so that no copy looks newer than one rotated after it. Pure.
 */
export function planCopies(copies: readonly CopyFile[], rule: ResolvedRule, dirs: CopyDirs, now: Date): CopyStep[] {
  const sorted = [...copies].sort((a, b) => compareKeysDesc(a.parsed.key, b.parsed.key) || b.mtime.getTime() - a.mtime.getTime());
  let prev = Infinity;
  const items: Item[] = sorted.map((copy) => {
    const t = Math.min(copy.mtime.getTime(), prev - 1);
    prev = t;
    return { id: copy.path, time: new Date(t), copy };
  });
  // The newest `keep` by position (the order is already the names'); the rest is the archive's.
  const archived = items.slice(rule.keep);
  const archive = dirs.archive;
  const place = new Map<Item, { dir: string; reasons: string[] }>();
  const steps: CopyStep[] = [];
  for (const item of items.slice(0, rule.keep)) place.set(item, { dir: dirs.backups, reasons: [`newest ${rule.keep} (keep)`] });
  if (archived.length === 0) {
    // nothing beyond keep
  } else if (archive === undefined) {
    for (const item of archived) steps.push({ kind: "delete", path: item.copy.path, reasons: [`beyond keep ${rule.keep}`, "no archive-dir"] });
  } else {
    const policy = {
      allowEmpty: true,
      // Given, so the engine need not look up the machine's zone for every log.
      timeZone: rule.calendar.timeZone,
      ...(rule.archiveKeep !== undefined ? { maxCount: rule.archiveKeep } : {}),
      ...(rule.archiveMaxAge !== undefined ? { maxAge: rule.archiveMaxAge } : {}),
    };
    const res = applyPolicy(archived, policy, now);
    for (const d of res.decisions) {
      const why = rename(d.reasons);
      if (d.keep) place.set(d.item, { dir: archive, reasons: rule.keep > 0 ? [`beyond keep ${rule.keep}`, ...why] : why });
      else steps.push({ kind: "delete", path: d.item.copy.path, reasons: why });
    }
  }
  const compressBefore = rule.calendar.subtract(now, rule.compressAfter);
  items.forEach((item, i) => {
    const where = place.get(item);
    if (!where) return;
    let at = item.copy.path;
    if (where.dir !== item.copy.dir) {
      at = join(where.dir, item.copy.name);
      steps.push({ kind: "move", path: item.copy.path, to: at, reasons: where.reasons });
    }
    if (rule.compress === "none" || item.copy.parsed.compressed !== undefined) return;
    if (rule.delayCompress && i === 0) return;
    if (item.time > compressBefore) return;
    const reasons = [rule.compressAfter.hours + rule.compressAfter.days + rule.compressAfter.months + rule.compressAfter.years === 0 ? "compress" : `older than compress-after ${rule.compressAfter.text}`];
    if (rule.delayCompress) reasons.push("not the newest (delay-compress)");
    steps.push({ kind: "compress", path: at, reasons });
  });
  const order = { delete: 0, move: 1, compress: 2 } as const;
  return steps.sort((a, b) => order[a.kind] - order[b.kind]);
}

/** The retention engine's reasons in the words of rotation settings. */
function rename(reasons: string[]): string[] {
  return reasons.map((r) => r.replace(/^max-count /, "archive-keep ").replace(/^max-age /, "archive-max-age ").replace(/^within max-count /, "within archive-keep ").replace(/^within max-age /, "within archive-max-age "));
}
