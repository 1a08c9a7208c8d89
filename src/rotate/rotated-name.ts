import { escape } from "./date-format.js";
import type { Compression, ResolvedRule } from "./rule.js";

/** File name endings of compressed copies. */
export const COMPRESSED_EXT: Readonly<Record<Exclude<Compression, "none">, string>> = { gzip: ".gz", zstd: ".zst" };

/** What a rotated copy's name says: its place in the sequence, and whether it is compressed. */
export interface CopyName {
  /** The name without the compression ending. */
  stem: string;
  compressed: Exclude<Compression, "none"> | undefined;
  /** Sorts copies: larger is newer (numbered: minus the number; dated: date fields then counter). */
  key: number[];
  /** Numbered copies: the N of `app.log.N`. */
  number: number | undefined;
}

type Naming = Pick<ResolvedRule, "naming" | "date">;

/**
 * Reads `fileName` as a copy of the log `liveName` under `rule`'s naming, or undefined. Both
 * compression endings are recognised whatever the rule says now, so changing `compress` does
 * not orphan older copies.
 */
export function parseCopyName(liveName: string, fileName: string, rule: Naming): CopyName | undefined {
  const m = copyPattern(liveName, rule).exec(fileName);
  if (!m?.groups) return undefined;
  const ext = m.groups.ext;
  const compressed = ext === ".gz" ? "gzip" : ext === ".zst" ? "zstd" : undefined;
  const stem = ext === undefined ? fileName : fileName.slice(0, -ext.length);
  if (rule.naming === "numbered") {
    const n = Number(m.groups.n);
    return { stem, compressed, key: [-n], number: n };
  }
  return { stem, compressed, key: [...rule.date.key(m.groups.date ?? ""), Number(m.groups.counter ?? 0)], number: undefined };
}

const patterns = new WeakMap<Naming, Map<string, RegExp>>();

function copyPattern(liveName: string, rule: Naming): RegExp {
  let byName = patterns.get(rule);
  if (!byName) patterns.set(rule, (byName = new Map()));
  let re = byName.get(liveName);
  if (!re) {
    const body = rule.naming === "numbered" ? `\\.(?<n>\\d+)` : `(?<date>${rule.date.pattern})(?:\\.(?<counter>\\d+))?`;
    re = new RegExp(`^${escape(liveName)}${body}(?<ext>\\.gz|\\.zst)?$`);
    byName.set(liveName, re);
  }
  return re;
}

/**
 * `app.log.2026-11-20`, then `app.log.2026-11-20.1`, `.2`, … for `counter` 0, 1, 2. The date is
 * the rotation's (`now`), the day before it, or when the file began (`started`, else `now`).
 */
export function datedName(liveName: string, rule: Pick<ResolvedRule, "date" | "nameDate">, when: { now: Date; started?: Date | undefined }, counter: number): string {
  const t = rule.nameDate === "yesterday" ? new Date(when.now.getTime() - 86_400_000) : rule.nameDate === "start" ? (when.started ?? when.now) : when.now;
  return `${liveName}${rule.date.format(t)}${counter > 0 ? `.${counter}` : ""}`;
}

export function numberedName(liveName: string, n: number): string {
  return `${liveName}.${n}`;
}

/** Newest first. */
export function compareKeysDesc(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
