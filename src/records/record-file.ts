import { extname } from "node:path";
import { CofferError } from "../core/errors.js";
import { findArraySpans } from "./json-spans.js";

export type RecordFormat = "json" | "ndjson";
export type FormatChoice = RecordFormat | "auto";

/**
 * A live record file as read: each record's parsed value and original text, and how to write
 * the file back with some records taken out (or new ones added) while every other byte stays
 * as it was.
 */
export interface RecordText {
  format: RecordFormat;
  /** Parsed records; `undefined` for an NDJSON line that is not JSON (it stays where it is). */
  values: unknown[];
  /** The file with only the records `keep` accepts, in their order, formatting untouched. */
  rebuild(keep: (i: number) => boolean): string;
  /** The file with `added` (already serialised records) after the last record. */
  append(added: readonly string[]): string;
  /** A record written the way this file writes its records. */
  serialize(value: unknown): string;
  /** The indentation the file uses (for archive files written beside it). */
  indent: string | number;
}

export function chooseFormat(file: string, text: string, choice: FormatChoice, key: string | undefined): RecordFormat {
  if (choice !== "auto") return choice;
  const ext = extname(file).toLowerCase();
  if (ext === ".ndjson" || ext === ".jsonl") return "ndjson";
  if (ext === ".json" || key !== undefined) return "json";
  try {
    const v = JSON.parse(stripBom(text)) as unknown;
    return Array.isArray(v) ? "json" : "ndjson";
  } catch {
    return "ndjson";
  }
}

/** `name` (the file) words errors. */
export function parseRecordText(text: string, format: RecordFormat, key: string | undefined, name = "The file"): RecordText {
  return format === "json" ? parseJson(text, key, name) : parseNdjson(text);
}

function stripBom(text: string): string {
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

function detectIndent(text: string): string | number {
  const m = /\n([ \t]+)\S/.exec(text);
  if (!m) return 2;
  const ws = m[1] as string;
  return ws.includes("\t") ? "\t" : ws.length;
}

function parseJson(full: string, key: string | undefined, name: string): RecordText {
  const bom = full.startsWith("\uFEFF") ? "\uFEFF" : "";
  const text = full.slice(bom.length);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CofferError("INVALID", `${name} is not valid JSON (${(err as Error).message}); nothing was changed.`, { path: name });
  }
  const spans = findArraySpans(text, key);
  const arr = (key === undefined ? doc : (doc as Record<string, unknown>)[key]) as unknown[];
  if (arr.length !== spans.elements.length) throw new CofferError("INVALID", "The JSON record array could not be located exactly; nothing was changed.");
  const els = spans.elements;
  const first = els[0];
  const last = els[els.length - 1];
  // What separates records, and what stands between the brackets and the first and last.
  const sep = els.length >= 2 ? text.slice((els[0] as { end: number }).end, (els[1] as { start: number }).start) : undefined;
  const lead = first ? text.slice(spans.open + 1, first.start) : "";
  const trail = last ? text.slice(last.end, spans.close) : "";
  const raws = els.map((e) => text.slice(e.start, e.end));
  const indent = detectIndent(text);
  const defaultSep = (): string => (lead.includes("\n") ? `,${lead}` : ", ");
  const around = (items: string[]): string =>
    bom + text.slice(0, spans.open + 1) + (items.length > 0 ? lead + items.join(sep ?? defaultSep()) + trail : "") + text.slice(spans.close);
  // Records on lines of their own are indented as the first one is; inline ones are compact.
  const elementIndent = lead.includes("\n") ? (lead.slice(lead.lastIndexOf("\n") + 1)) : undefined;
  return {
    format: "json",
    values: arr,
    indent,
    serialize: (v) => (elementIndent === undefined ? JSON.stringify(v) : JSON.stringify(v, null, indent).replace(/\n/g, `\n${elementIndent}`)),
    rebuild: (keep) => around(raws.filter((_, i) => keep(i))),
    append: (added) => {
      if (els.length === 0) {
        return bom + text.slice(0, spans.open + 1) + added.join(", ") + text.slice(spans.close);
      }
      return around([...raws, ...added]);
    },
  };
}

function parseNdjson(text: string): RecordText {
  // Lines with their endings; a last line without one stays without.
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const values: unknown[] = [];
  const recordLine: number[] = [];
  lines.forEach((line, n) => {
    const body = line.replace(/\r?\n$/, "");
    if (body.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch {
      v = undefined;
    }
    values.push(v);
    recordLine.push(n);
  });
  const lineRecord = new Map(recordLine.map((n, i) => [n, i]));
  return {
    format: "ndjson",
    values,
    indent: 2,
    serialize: (v) => JSON.stringify(v),
    rebuild: (keep) =>
      lines
        .filter((_, n) => {
          const i = lineRecord.get(n);
          return i === undefined || keep(i);
        })
        .join(""),
    append: (added) => {
      const head = text === "" || text.endsWith("\n") ? text : `${text}\n`;
      return head + added.map((a) => `${a}\n`).join("");
    },
  };
}
