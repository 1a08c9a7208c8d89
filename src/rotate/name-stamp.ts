/**
 * The time in the names of versions, `.bak` copies and record archives, on the machine's wall
 * clock (as the tools these replace wrote them): `2026-11-20_143012` (dashed) or
 * `20261120_143012` (compact). Read back as the same local time, so a name sorts and ages by
 * the time it says.
 */
export type StampStyle = "dashed" | "compact";

export const STAMP_PATTERN: Readonly<Record<StampStyle, string>> = {
  dashed: "\\d{4}-\\d{2}-\\d{2}_\\d{6}",
  compact: "\\d{8}_\\d{6}",
};

export function formatStamp(t: Date, style: StampStyle): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  const date = style === "dashed" ? `${p(t.getFullYear(), 4)}-${p(t.getMonth() + 1)}-${p(t.getDate())}` : `${p(t.getFullYear(), 4)}${p(t.getMonth() + 1)}${p(t.getDate())}`;
  return `${date}_${p(t.getHours())}${p(t.getMinutes())}${p(t.getSeconds())}`;
}

/** The local time a stamp of either style says, or undefined for anything else. */
export function parseStamp(s: string): Date | undefined {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(y, mo - 1, d, h, mi, se);
  return t.getMonth() === mo - 1 && t.getDate() === d ? t : undefined;
}
