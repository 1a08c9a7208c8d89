import { CofferError } from "../core/errors.js";

/**
 * A calendar duration as restic writes it: `30d`, `2w`, `1y6m`, `12h`. Years, months and days
 * are calendar steps (the same wall-clock time so many days earlier, in the policy's time zone),
 * hours are exact; weeks are 7 days. `text` is what was written, for reasons ("max-age 30d").
 */
export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
  text: string;
}

const UNITS: Record<string, keyof Omit<Duration, "text">> = { y: "years", m: "months", w: "days", d: "days", h: "hours" };
const UNIT_HELP = "units: y, m (months), w, d, h";

export function parseDuration(s: string): Duration {
  const text = s.trim();
  if (/^(\d+[ymwdh])+$/.test(text)) {
    const d: Duration = { years: 0, months: 0, days: 0, hours: 0, text };
    const seen = new Set<string>();
    for (const m of text.matchAll(/(\d+)([ymwdh])/g)) {
      const unit = m[2] as string;
      if (seen.has(unit)) throw invalid(s, `give each unit once (${UNIT_HELP})`);
      seen.add(unit);
      const n = Number.parseInt(m[1] as string, 10);
      if (!Number.isSafeInteger(n) || n > 100_000) throw invalid(s, "use a smaller number");
      d[UNITS[unit] as keyof Omit<Duration, "text">] += unit === "w" ? n * 7 : n;
    }
    return d;
  }
  throw invalid(s, hint(text));
}

function invalid(s: string, hint: string): CofferError {
  return new CofferError("INVALID", `"${s}" is not a duration; ${hint}.`, { value: s });
}

const WORDS: [RegExp, string][] = [
  [/^(years?|yrs?|y)$/i, "y"],
  [/^(months?|mons?|mo)$/i, "m"],
  [/^(weeks?|wks?|w)$/i, "w"],
  [/^(days?|d)$/i, "d"],
  [/^(hours?|hrs?|h)$/i, "h"],
];

/** A suggestion for a duration written another way ("7 days" → "use 7d"). */
function hint(text: string): string {
  if (text === "") return `give a number and a unit, e.g. 30d (${UNIT_HELP})`;
  if (/^\d+$/.test(text)) return `add a unit, e.g. ${text}d (${UNIT_HELP})`;
  if (/^-/.test(text)) return `durations are positive, e.g. ${text.slice(1)} (${UNIT_HELP})`;
  if (/^\d+[.,]\d+/.test(text)) return `use whole numbers, e.g. 36h for 1.5d (${UNIT_HELP})`;
  if (/^\d+\s*(min|minutes?|s|secs?|seconds?)$/i.test(text)) return `the smallest unit is the hour, e.g. 1h (${UNIT_HELP})`;
  if (/^\d+M$/.test(text)) return `write months with a lower-case m, e.g. ${text.toLowerCase()} (${UNIT_HELP})`;
  // "7 days", "1 year 6 months", "2 weeks and 3 days", "30D"
  const parts = text.split(/\s*(?:,|\band\b|\s)\s*/i).filter((p) => p !== "");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    const joined = /^(\d+)([a-z]+)$/i.exec(p);
    const [num, word] = joined ? [joined[1], joined[2]] : /^\d+$/.test(p) ? [p, parts[++i]] : [undefined, undefined];
    const unit = word === undefined ? undefined : WORDS.find(([re]) => re.test(word))?.[1];
    if (num === undefined || unit === undefined) return `use a number and a unit, e.g. 30d or 1y6m (${UNIT_HELP})`;
    out.push(`${num}${unit}`);
  }
  return `use ${out.join("")}`;
}
