/**
 * Text formatting for people: sizes, durations, rates, times and aligned tables. Pure
 * functions; `--json` output never goes through here (it carries raw numbers and ISO times).
 */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** Binary units, one decimal from KiB up: `512 B`, `1.2 MiB`, `3.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "? B";
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  if (value < 1024) return `${sign}${Math.round(value)} B`;
  let unit = 0;
  while (unit < BYTE_UNITS.length - 1 && value >= 1024) {
    value /= 1024;
    unit++;
  }
  // 1023.96 KiB rounds to "1024.0 KiB"; show it as the next unit instead.
  if (Number(value.toFixed(1)) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** Bytes per second: `12.3 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * Compact duration, precision falling as it grows: `850ms`, `4.2s`, `42s`, `3m12s`,
 * `1h02m`, `2d03h`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = ms / 1000;
  if (totalSeconds < 10) return `${(Math.floor(totalSeconds * 10) / 10).toFixed(1)}s`;
  const s = Math.floor(totalSeconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

/** ISO-8601 in UTC with milliseconds, as stored and as printed in `--json`. */
export function formatIsoTime(d: Date): string {
  return d.toISOString();
}

/** Local wall-clock time as restic prints it: `2026-11-20 14:03:12`. */
export function formatLocalTime(d: Date): string {
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export interface TableColumn {
  header: string;
  /** Numbers read best right-aligned. Default left. */
  align?: "left" | "right";
}

export interface TableOptions {
  /** Spaces between columns. Default 2. */
  gap?: number;
  /** A line of dashes under the header, restic-style. Default true. */
  rule?: boolean;
}

/**
 * A plain text table: header, a rule, rows; columns as wide as their widest cell; no
 * trailing spaces. Rows shorter than the header are padded with empty cells.
 */
export function renderTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const gap = " ".repeat(opts.gap ?? 2);
  const widths = columns.map((c, i) => Math.max(textWidth(c.header), ...rows.map((r) => textWidth(r[i] ?? ""))));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const fill = " ".repeat((widths[i] ?? 0) - textWidth(cell));
        return c.align === "right" ? fill + cell : cell + fill;
      })
      .join(gap)
      .trimEnd();
  const out = [line(columns.map((c) => c.header))];
  if (opts.rule ?? true) {
    const total = widths.reduce((a, w) => a + w, 0) + gap.length * Math.max(0, columns.length - 1);
    out.push("-".repeat(total));
  }
  for (const r of rows) out.push(line(r));
  return out.join("\n") + "\n";
}

/**
 * Display width in terminal cells, counting code points: good enough for the names and
 * numbers we print; East Asian wide characters would need a real wcwidth.
 */
export function textWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Shortens `s` to `width` cells, keeping the end (the file name) and marking the cut with …. */
export function truncateStart(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(chars.length - width).join("");
  return "…" + chars.slice(chars.length - (width - 1)).join("");
}
