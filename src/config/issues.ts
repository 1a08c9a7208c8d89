import { CofferError } from "../core/errors.js";

/**
 * One problem in a configuration file: where (`path` as written in the file, e.g.
 * `jobs.weekly.every`, and the line and column when the file is known), what was wrong and what
 * was expected, and a hint on how to fix it.
 */
export interface ConfigIssue {
  /** Keys and list indexes from the top of the document. */
  path: (string | number)[];
  /** What is wrong and what was expected: `"7 days" is not a duration`. */
  message: string;
  /** How to fix it: `use 7d`. */
  hint?: string;
  /** 1-based, when known. */
  line?: number;
  column?: number;
}

/** `jobs.weekly.every`, `sources.app.paths[2]`, `jobs["nightly.db"]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(p)) out += out === "" ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out === "" ? "(top level)" : out;
}

/** `coffer.yaml:14:12: jobs.weekly.every: "7 days" is not a duration; use 7d.` */
export function formatIssue(issue: ConfigIssue, file?: string): string {
  const where = file === undefined ? "" : issue.line !== undefined ? `${file}:${issue.line}:${issue.column ?? 1}: ` : `${file}: `;
  const text = issue.hint !== undefined ? `${issue.message}; ${issue.hint}` : issue.message;
  const path = issue.path.length > 0 ? `${formatPath(issue.path)}: ` : "";
  return `${where}${path}${/[.?!]$/.test(text) ? text : `${text}.`}`;
}

/**
 * The error a configuration with problems raises: CofferError INVALID whose message lists every
 * issue, one per line, and whose `data.issues` holds them for `--json` and for tests.
 */
export function configError(issues: ConfigIssue[], file?: string): CofferError {
  const name = file ?? "the configuration";
  const lines = issues.map((i) => formatIssue(i, file));
  const message =
    issues.length === 1
      ? (lines[0] as string)
      : `${name} has ${issues.length} problems:\n${lines.map((l) => `  ${l}`).join("\n")}`;
  return new CofferError("INVALID", message, { file, issues });
}

/** The issues a configuration error carries (empty for any other error). */
export function configIssues(err: unknown): ConfigIssue[] {
  if (!(err instanceof CofferError) || err.code !== "INVALID") return [];
  const issues = err.data.issues;
  return Array.isArray(issues) ? (issues as ConfigIssue[]) : [];
}

/** The known word closest to `word`, when close enough to be a likely typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  // camelCase written for a kebab-case key: backupsDir → backups-dir.
  const kebab = word.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, "-");
  if (known.includes(kebab)) return kebab;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = distance(w, k.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  return best !== undefined && bestDist <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
