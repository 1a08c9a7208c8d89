/**
 * Finding, reading and checking `coffer.yaml`. A file named with `--config` is used as it is;
 * otherwise the first of `./coffer.yaml`, `./coffer.yml`, `$XDG_CONFIG_HOME/coffer/coffer.yaml`
 * (`~/.config/coffer/coffer.yaml`) that exists. YAML (JSON is YAML too: an old rotate rules file
 * `{"rotate": [...]}` loads as it is). Problems are reported together, each with the file, line,
 * column, the path of the setting, what was expected and a hint: first every problem of shape
 * and value, then (once those are fixed) every problem of names and references.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { configSearchPath, type Env, findConfigFile, type FindOptions } from "./find.js";
import { type ConfigIssue, configError } from "./issues.js";
import { resolveConfig } from "./resolve.js";
import { configSchema } from "./schema.js";
import type { CofferConfig } from "./types.js";
import { zodIssues } from "./zod-issues.js";

export { CONFIG_FILE_NAMES, configSearchPath, findConfigFile, type Env } from "./find.js";

export type LoadOptions = FindOptions;

/** Reads and checks the configuration; throws NOT_FOUND when there is none, INVALID (with `data.issues`) when it has problems. */
export async function loadConfig(opts: LoadOptions = {}): Promise<CofferConfig> {
  const file = locate(opts);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw readError(err, file, opts);
  }
  return parseConfig(text, { file, ...(opts.env ? { env: opts.env } : {}) });
}

/** `loadConfig` for places that cannot wait. */
export function loadConfigSync(opts: LoadOptions = {}): CofferConfig {
  const file = locate(opts);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw readError(err, file, opts);
  }
  return parseConfig(text, { file, ...(opts.env ? { env: opts.env } : {}) });
}

export interface ParseOptions {
  /** Named in issues; its folder is where relative paths are taken from. */
  file?: string;
  /** Default: the file's folder, else the current one. */
  dir?: string;
  env?: Env;
}

/** Checks configuration text; throws INVALID listing every issue. */
export function parseConfig(text: string, opts: ParseOptions = {}): CofferConfig {
  const { config, issues } = checkConfigText(text, opts);
  if (config === undefined || issues.length > 0) throw configError(issues, opts.file);
  return config;
}

/** Checks configuration text and returns what it found, never throwing for a problem in the text. */
export function checkConfigText(text: string, opts: ParseOptions = {}): { config?: CofferConfig; issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        path: [],
        message: `the YAML cannot be read: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? e.code}`,
        hint: yamlHint(e.code),
        ...(e.linePos?.[0] ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (err) {
    return { issues: [{ path: [], message: `the YAML cannot be read: ${(err as Error).message}` }] };
  }
  const locate = (i: ConfigIssue): { line?: number; column?: number } => position(doc, lineCounter, i.path, i.message.startsWith("unknown setting"));
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { issues: [{ path: [], message: "the file must hold settings (key: value), not a single value or a list", hint: "start with a section such as repositories: or sources:", line: 1, column: 1 }] };
  }
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) return { issues: byPlace(zodIssues(parsed.error.issues, data, configSchema).map((i) => ({ ...i, ...locate(i) }))) };
  const file = opts.file !== undefined ? resolve(opts.file) : undefined;
  const dir = opts.dir ?? (file !== undefined ? dirname(file) : process.cwd());
  const { config, issues } = resolveConfig(parsed.data, { dir, ...(file !== undefined ? { file } : {}), ...(opts.env ? { env: opts.env } : {}) });
  return { config, issues: byPlace(issues.map((i) => ({ ...i, ...locate(i) }))) };
}

/** In the order of the file (issues without a place last), so a reader goes down it once. */
function byPlace(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (i: ConfigIssue): number => (i.line ?? 1e9) * 1e4 + (i.column ?? 0);
  return issues.map((i, n) => ({ i, n })).sort((a, b) => key(a.i) - key(b.i) || a.n - b.n).map((x) => x.i);
}

/** Adds line and column to issues about `text` (from `checkConfigEnvironment`, say). */
export function locateIssues(text: string, issues: ConfigIssue[]): ConfigIssue[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  return byPlace(issues.map((i) => ({ ...i, ...position(doc, lineCounter, i.path) })));
}

function locate(opts: LoadOptions): string {
  const file = findConfigFile(opts);
  if (file !== undefined) return file;
  const tried = configSearchPath(opts);
  throw new CofferError("NOT_FOUND", `No configuration found (looked for ${tried.join(", ")}); write one with "coffer config init", or name one with --config FILE.`, { tried });
}

function readError(err: unknown, file: string, opts: LoadOptions): CofferError {
  if (sysCode(err) === "ENOENT") {
    return new CofferError("NOT_FOUND", `The configuration file ${file} does not exist${opts.file !== undefined ? "; check --config" : ""}.`, { file });
  }
  if (sysCode(err) === "EISDIR") return new CofferError("INVALID", `${file} is a folder; name the configuration file itself (e.g. ${join(file, "coffer.yaml")}).`, { file });
  return ioError(err, `reading the configuration file ${file}`);
}

function yamlHint(code: string): string | undefined {
  if (code === "DUPLICATE_KEY") return "each setting may appear once in a mapping; remove or merge the other one";
  if (code === "BAD_INDENT" || code === "MISSING_CHAR") return "check the indentation: nested settings are indented further than their parent, with spaces, not tabs";
  if (code === "TAB_AS_INDENT") return "indent with spaces, not tabs";
  if (code === "BLOCK_AS_IMPLICIT_KEY" || code === "MULTILINE_IMPLICIT_KEY") return "a key is followed by a colon and a space (key: value)";
  return undefined;
}

/**
 * Line and column of the deepest part of `path` that is in the document: the value for a
 * setting that is there (a scalar), the key for a mapping, a list or a missing setting.
 */
function position(doc: Document, lc: LineCounter, path: (string | number)[], atKey = false): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let anchor: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? (node as Node) : undefined;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node) && typeof seg === "string") {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) break;
      node = pair.value;
      anchor = (isScalar(node) && !atKey ? node : (pair.key as Node)) ?? anchor;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      anchor = item as Node;
    } else break;
  }
  const offset = anchor?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}
