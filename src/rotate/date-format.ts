import { CofferError } from "../core/errors.js";
import { wallClock } from "../retention/buckets.js";

/**
 * The date part of rotated names, written with strftime directives as logrotate's `dateformat`:
 * %Y %m %d %H %M %S %s %j %V and %%. Formatted in a time zone (default: the machine's), and
 * read back from names so copies sort by the time in their name, whatever the field order.
 */
export interface DateFormat {
  readonly text: string;
  format(t: Date): string;
  /** A regular-expression source matching what `format` writes (no anchors, one group per field). */
  readonly pattern: string;
  /** Sort key of a name's date part (the text `pattern` matched): Y, m, d, H, M, S, s. */
  key(match: string): number[];
}

const FIELDS: Record<string, { re: string; slot: number }> = {
  Y: { re: "(\\d{4})", slot: 0 },
  m: { re: "(\\d{2})", slot: 1 },
  d: { re: "(\\d{2})", slot: 2 },
  j: { re: "(\\d{3})", slot: 2 }, // day of year sorts where the day does (with no month given)
  V: { re: "(\\d{2})", slot: 1 },
  H: { re: "(\\d{2})", slot: 3 },
  M: { re: "(\\d{2})", slot: 4 },
  S: { re: "(\\d{2})", slot: 5 },
  s: { re: "(\\d+)", slot: 6 },
};

export function dateFormat(text: string, timeZone?: string): DateFormat {
  const parts: ({ lit: string } | { field: string })[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== "%") {
      parts.push({ lit: c });
      continue;
    }
    const f = text[++i];
    if (f === "%") parts.push({ lit: "%" });
    else if (f !== undefined && FIELDS[f]) parts.push({ field: f });
    else {
      throw new CofferError("INVALID", `date format "${text}" has %${f ?? ""}, which coffer does not write; use %Y %m %d %H %M %S %s %j %V.`, { dateFormat: text });
    }
  }
  if (text.includes("/")) throw new CofferError("INVALID", `date format "${text}" contains "/"; a rotated name cannot hold a directory.`, { dateFormat: text });
  const fields = parts.flatMap((p) => ("field" in p ? [p.field] : []));
  const fmt = wallClock(timeZone).format;
  return {
    text,
    pattern: parts.map((p) => ("field" in p ? (FIELDS[p.field] as { re: string }).re : escape(p.lit))).join(""),
    format(t) {
      const w = wall(fmt, t);
      return parts.map((p) => ("lit" in p ? p.lit : field(p.field, w, t))).join("");
    },
    key(match) {
      const m = new RegExp(`^${this.pattern}$`).exec(match);
      const key = [0, 0, 0, 0, 0, 0, 0];
      if (!m) return key;
      fields.forEach((f, i) => (key[(FIELDS[f] as { slot: number }).slot] = Number(m[i + 1])));
      return key;
    },
  };
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wall(fmt: Intl.DateTimeFormat, t: Date): Wall {
  const w: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of fmt.formatToParts(t)) {
    if (p.type === "year" || p.type === "month" || p.type === "day" || p.type === "hour" || p.type === "minute" || p.type === "second") {
      w[p.type] = Number.parseInt(p.value, 10);
    }
  }
  return w;
}

function field(f: string, w: Wall, t: Date): string {
  switch (f) {
    case "Y":
      return pad(w.year, 4);
    case "m":
      return pad(w.month);
    case "d":
      return pad(w.day);
    case "H":
      return pad(w.hour);
    case "M":
      return pad(w.minute);
    case "S":
      return pad(w.second);
    case "s":
      return String(Math.floor(t.getTime() / 1000));
    case "j": {
      const start = Date.UTC(w.year, 0, 1);
      return pad(Math.round((Date.UTC(w.year, w.month - 1, w.day) - start) / 86_400_000) + 1, 3);
    }
    default: {
      // %V: ISO 8601 week number
      const date = new Date(Date.UTC(w.year, w.month - 1, w.day));
      const dow = (date.getUTCDay() + 6) % 7;
      const thursday = date.getTime() + (3 - dow) * 86_400_000;
      const jan1 = Date.UTC(new Date(thursday).getUTCFullYear(), 0, 1);
      return pad(Math.floor((thursday - jan1) / (7 * 86_400_000)) + 1);
    }
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

export function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
