/**
 * zod's issues in words for a person editing a YAML file: what the setting holds, what was
 * expected, and a hint (the near-miss key or value, the form to write). The value found is
 * looked up in the document, since zod's issues do not carry it.
 */
import type { z } from "zod";
import { type ConfigIssue, didYouMean } from "./issues.js";

type ZodIssue = z.core.$ZodIssue;
type Path = (string | number)[];

export function zodIssues(issues: readonly ZodIssue[], data: unknown, schema: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) out.push(...convert(iss, [], data, schema));
  // One issue per setting: a union reports the same place from several branches.
  const seen = new Set<string>();
  return out.filter((i) => {
    const key = `${JSON.stringify(i.path)}\0${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function convert(iss: ZodIssue, prefix: Path, data: unknown, schema: z.ZodType): ConfigIssue[] {
  const path: Path = [...prefix, ...iss.path.map((p) => (typeof p === "number" ? p : String(p)))];
  const value = valueAt(data, path);
  const issue = (message: string, hint?: string, at: Path = path): ConfigIssue => ({ path: at, message, ...(hint !== undefined ? { hint } : {}) });
  switch (iss.code) {
    case "custom": {
      const hint = (iss.params as { hint?: string } | undefined)?.hint;
      const [message, ...rest] = iss.message.split("; ");
      return [issue(message ?? iss.message, hint ?? (rest.length > 0 ? rest.join("; ") : undefined))];
    }
    case "unrecognized_keys": {
      const known = knownKeys(schema, path);
      return iss.keys.map((k) => {
        const near = didYouMean(k, known);
        return issue(`unknown setting "${k}"`, near !== undefined ? `did you mean ${near}?` : known.length > 0 ? `known settings here: ${known.join(", ")}` : undefined, [...path, k]);
      });
    }
    case "invalid_type": {
      // zod says "number" for a whole number given as text; the schema knows it wants an integer.
      const expected = iss.expected === "number" && (schemaAt(schema, path) as { format?: string } | undefined)?.format === "safeint" ? "int" : iss.expected;
      if (value === undefined) return [issue(`${describeKey(path)} is required`, requiredHint(expected, schema, path))];
      return [issue(`expected ${expectedWords(expected)}, not ${show(value)}`, typeHint(expected, value))];
    }
    case "invalid_value": {
      const allowed = iss.values.map((v) => String(v));
      const near = typeof value === "string" ? didYouMean(value, allowed) : undefined;
      return [issue(`${show(value)} is not one of ${allowed.join(", ")}`, near !== undefined ? `did you mean ${near}?` : undefined)];
    }
    case "invalid_union":
      return unionIssues(iss, path, value, data, schema);
    case "too_small": {
      if (iss.origin === "array") return [issue(`needs at least ${String(iss.minimum)} ${Number(iss.minimum) === 1 ? "entry" : "entries"}`)];
      if (iss.origin === "string") return [issue("must not be empty")];
      return [issue(`${show(value)} is too small; use ${String(iss.minimum)} or more`, iss.minimum === -1 ? "-1 means unlimited" : undefined)];
    }
    case "too_big":
      return [issue(`${show(value)} is too big; use at most ${String(iss.maximum)}`)];
    default:
      return [issue(iss.message)];
  }
}

/**
 * A union's branches each failed. When the value's type fits one branch (an object for the
 * object form of a webhook), that branch's own issues are the useful ones; otherwise say which
 * types would do.
 */
function unionIssues(iss: z.core.$ZodIssueInvalidUnion, path: Path, value: unknown, data: unknown, schema: z.ZodType): ConfigIssue[] {
  const branches = iss.errors;
  const typeOnly = (b: readonly ZodIssue[]): boolean => b.length === 1 && b[0]?.code === "invalid_type" && b[0].path.length === 0;
  const fitting = branches.filter((b) => !typeOnly(b));
  if (fitting.length > 0 && value !== undefined) {
    const best = fitting.reduce((a, b) => (b.length < a.length ? b : a));
    return best.flatMap((i) => convert(i, path, data, schema));
  }
  const expected = [...new Set(branches.flatMap((b) => b.filter((i) => i.code === "invalid_type").map((i) => expectedWords((i as z.core.$ZodIssueInvalidType).expected))))];
  if (value === undefined) return [{ path, message: `${describeKey(path)} is required` }];
  return [{ path, message: `expected ${expected.join(" or ")}, not ${show(value)}`, ...(expected.some((e) => e.includes("list")) && typeof value !== "object" ? { hint: "write one value, or a list such as [a, b]" } : {}) }];
}

function expectedWords(expected: string): string {
  const words: Record<string, string> = {
    string: "text",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    object: "settings (key: value)",
    array: "a list",
    null: "null",
    literal: "a fixed value",
  };
  return words[expected] ?? expected;
}

function typeHint(expected: string, value: unknown): string | undefined {
  if (expected === "boolean" && typeof value === "string") return /^(yes|on|y)$/i.test(value) ? "write true" : /^(no|off|n)$/i.test(value) ? "write false" : "write true or false";
  if ((expected === "number" || expected === "int") && typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return `write it without quotes: ${value.trim()}`;
  if (expected === "int" && typeof value === "number") return `use a whole number such as ${Math.round(value)}`;
  if (expected === "string" && typeof value === "number") return `quote it: "${value}"`;
  if (expected === "object" && value === null) return "write the settings below it, indented, or remove the empty key";
  if (expected === "array" && typeof value === "string") return `write a list: [${value}]`;
  return undefined;
}

function requiredHint(expected: string, schema: z.ZodType, path: Path): string | undefined {
  const s = schemaAt(schema, path);
  const values = s?._zod.def.type === "enum" ? Object.values((s._zod.def as unknown as { entries: Record<string, string> }).entries) : undefined;
  if (values !== undefined) return `add ${String(path[path.length - 1])}: with one of ${values.join(", ")}`;
  return `add ${String(path[path.length - 1])}: (${expectedWords(expected)})`;
}

function describeKey(path: Path): string {
  const last = path[path.length - 1];
  return last === undefined ? "a value" : typeof last === "number" ? "an entry" : last;
}

function show(v: unknown): string {
  if (v === null) return "null (an empty value)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "settings (key: value)";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** The schema that checks the value at `path` (through optional, nullable, default, record, array, union). */
function schemaAt(schema: z.ZodType, path: Path): z.ZodType | undefined {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const p of path) {
    if (s === undefined) return undefined;
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === "object") s = unwrap((def.shape as Record<string, z.ZodType>)[String(p)]);
    else if (def.type === "record") s = unwrap(def.valueType as z.ZodType);
    else if (def.type === "array") s = unwrap(def.element as z.ZodType);
    else if (def.type === "union") {
      const options = (def.options as z.ZodType[]).map(unwrap);
      const pick = options.find((o) => o?._zod.def.type === (typeof p === "number" ? "array" : "object"));
      s = pick === undefined ? undefined : schemaAt(pick, [p]);
    } else return undefined;
  }
  return s;
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
  let cur = s;
  for (let i = 0; i < 10 && cur !== undefined; i++) {
    const def = cur._zod.def as unknown as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.type === "optional" || def.type === "nullable" || def.type === "default") cur = def.innerType;
    else if (def.type === "pipe") cur = def.in;
    else return cur;
  }
  return cur;
}

/** The keys an object at `path` may have, for did-you-mean. */
function knownKeys(schema: z.ZodType, path: Path): string[] {
  const s = schemaAt(schema, path);
  const def = s?._zod.def as unknown as { type: string; shape?: Record<string, unknown>; options?: z.ZodType[] } | undefined;
  if (def?.type === "object" && def.shape) return Object.keys(def.shape);
  if (def?.type === "union") {
    const obj = def.options?.map(unwrap).find((o) => o?._zod.def.type === "object");
    return obj ? Object.keys((obj._zod.def as unknown as { shape: Record<string, unknown> }).shape) : [];
  }
  return [];
}
