import { randomInt } from "node:crypto";
import { CofferError } from "../core/errors.js";

/**
 * `--read-data-subset`, with restic's meaning: `n/t` reads the n-th of t groups of packs,
 * grouped by the first byte of the pack id (so `1/t` … `t/t` together read every pack once,
 * and the same group always holds the same packs); `x%` reads a random x % of the packs
 * (at least one).
 */
export type DataSubset = { kind: "group"; n: number; t: number } | { kind: "percent"; percent: number };

export function parseSubset(s: string): DataSubset {
  const g = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (g) {
    const n = Number(g[1]);
    const t = Number(g[2]);
    if (t < 1 || t > 256 || n < 1 || n > t) {
      throw new CofferError("USAGE", `Invalid read-data subset "${s}": in n/t, t must be 1 to 256 and n must be 1 to t.`, { subset: s });
    }
    return { kind: "group", n, t };
  }
  const p = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(s);
  if (p) {
    const percent = Number(p[1]);
    if (!(percent > 0 && percent <= 100)) throw new CofferError("USAGE", `Invalid read-data subset "${s}": the percentage must be above 0 and at most 100.`, { subset: s });
    return { kind: "percent", percent };
  }
  throw new CofferError("USAGE", `Invalid read-data subset "${s}": give "n/t" (such as 2/5) or a percentage (such as 10%).`, { subset: s });
}

/** The packs a subset chooses, in the order given. */
export function selectPacks(packs: readonly string[], subset: DataSubset): string[] {
  if (subset.kind === "group") {
    return packs.filter((id) => parseInt(id.slice(0, 2), 16) % subset.t === subset.n - 1);
  }
  if (packs.length === 0) return [];
  const want = Math.min(packs.length, Math.max(1, Math.round((packs.length * subset.percent) / 100)));
  // A partial Fisher–Yates shuffle: the first `want` places hold a uniform random choice.
  const a = [...packs];
  for (let i = 0; i < want; i++) {
    const j = i + randomInt(a.length - i);
    [a[i], a[j]] = [a[j] as string, a[i] as string];
  }
  const chosen = new Set(a.slice(0, want));
  return packs.filter((p) => chosen.has(p));
}
