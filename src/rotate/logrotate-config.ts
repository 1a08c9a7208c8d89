import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { CofferError, ioError } from "../core/errors.js";
import { parseByteSize } from "./parse-byte-size.js";
import type { Warning } from "../core/warning.js";
import type { Interval, RotateRule } from "./rule.js";

/**
 * Reads a logrotate configuration into coffer rules that, applied by `rotate`, produce the
 * files, names and contents logrotate would (numbered `app.log.1` or dateext names, olddir,
 * compress with delaycompress, create or copytruncate, rotate/maxage retention; compared side
 * by side with Debian's logrotate in the tests). Each rule is complete: it does not depend on
 * coffer's defaults, which differ from logrotate's (logrotate keeps no copy without `rotate N`).
 *
 * What is not applied is never silently dropped: every such directive is named in a warning
 * with its line. Known differences: a dateext name that exists gets a counter instead of
 * logrotate's "skipping rotation"; `weekly N` rotates at the ISO week (Monday); globs do not
 * pick up a matched log's own rotated copies.
 */
export interface LogrotateConversion {
  rules: RotateRule[];
  warnings: Warning[];
}

export async function readLogrotateConfig(file: string): Promise<LogrotateConversion> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw ioError(err, `reading the logrotate configuration ${file}`);
  }
  return parseLogrotateConfig(text, file);
}

interface Settings {
  interval: Interval | undefined;
  size: number | undefined;
  minSize: number | undefined;
  maxSize: number | undefined;
  rotate: number;
  maxAge: number | undefined;
  minAge: number | undefined;
  oldDir: string | undefined;
  compress: boolean;
  compressCmd: "gzip" | "zstd";
  compressLevel: number | undefined;
  delayCompress: boolean;
  dateExt: boolean;
  dateFormat: string | undefined;
  dateYesterday: boolean;
  copyTruncate: boolean;
  create: { mode?: string; owner?: string; group?: string } | undefined;
  missingOk: boolean;
  ifEmpty: boolean;
  postRotate: string | undefined;
  sharedScripts: boolean;
}

/** logrotate's own defaults (config.c): daily, no copies kept, ifempty, nomissingok, no create. */
const INITIAL: Settings = {
  interval: "daily",
  size: undefined,
  minSize: undefined,
  maxSize: undefined,
  rotate: 0,
  maxAge: undefined,
  minAge: undefined,
  oldDir: undefined,
  compress: false,
  compressCmd: "gzip",
  compressLevel: undefined,
  delayCompress: false,
  dateExt: false,
  dateFormat: undefined,
  dateYesterday: false,
  copyTruncate: false,
  create: undefined,
  missingOk: false,
  ifEmpty: true,
  postRotate: undefined,
  sharedScripts: false,
};

/** Directives that change nothing coffer does (mail is never sent, olddirs are always made). */
const HARMLESS = new Set(["nomail", "noshred", "createolddir", "nocompresscmd", "uncompresscmd", "nodelaycompress", "nosharedscripts", "nodateyesterday", "nocopy", "norenamecopy", "noallowhardlink"]);
const SCRIPTS = new Set(["postrotate", "prerotate", "firstaction", "lastaction", "preremove"]);
const UNSUPPORTED: Record<string, string> = {
  include: "convert each included file separately (--from-logrotate takes several files)",
  su: "coffer rotates as the user that runs it",
  mail: "rotated logs are not mailed",
  mailfirst: "rotated logs are not mailed",
  maillast: "rotated logs are not mailed",
  extension: "the extension is not kept at the end of rotated names",
  addextension: "the extension is not added to rotated names",
  start: "numbered copies always start at 1",
  shred: "old copies are deleted, not shredded",
  shredcycles: "old copies are deleted, not shredded",
  copy: "the log is rotated, not only copied",
  renamecopy: "the log is rotated in place",
  tabooext: "only include uses it, and include is not supported",
  taboopat: "only include uses it, and include is not supported",
  datehourago: "the date in names is the rotation's",
  nocreateolddir: "coffer always creates the old directory",
  allowhardlink: "coffer never rotates hard-linked logs specially",
  ignoreduplicates: "a log named twice is rotated by its first rule",
  compressoptions: "only -1 to -9 (gzip) and -1 to -19 (zstd) are understood",
  compressext: "the ending is .gz for gzip and .zst for zstd",
  compresscmd: "only gzip and zstd are supported",
  tmpfilename: "not needed: coffer renames in one step",
};

export function parseLogrotateConfig(text: string, file = "logrotate.conf"): LogrotateConversion {
  const warnings: Warning[] = [];
  const rules: RotateRule[] = [];
  const name = basename(file);
  const lines = text.split(/\r?\n/);
  let global: Settings = { ...INITIAL };
  let block: Settings | undefined;
  let pending: string[] = [];
  let blockLine = 0;
  const warn = (line: number, directive: string, why: string): void => {
    warnings.push({ code: "UNSUPPORTED_DIRECTIVE", path: file, message: `${file}:${line}: "${directive}" is not supported (${why}); it is ignored.` });
  };
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = (lines[i] as string).trim();
    if (raw === "" || raw.startsWith("#")) continue;
    if (block === undefined) {
      const tokens = splitWords(raw, name, lineNo);
      const open = tokens.indexOf("{");
      const first = tokens[0] as string;
      if (open === -1 && pending.length === 0 && !looksLikePath(first)) {
        global = directive(global, tokens, lineNo, warn, name);
        if (SCRIPTS.has(first.toLowerCase())) i = skipScript(lines, i, name, lineNo).end;
        continue;
      }
      pending.push(...(open === -1 ? tokens : tokens.slice(0, open)));
      if (open === -1) continue;
      if (pending.length === 0) throw new CofferError("INVALID", `${name}:${lineNo}: a block without log files.`, { file, line: lineNo });
      block = { ...global };
      blockLine = lineNo;
      continue;
    }
    if (raw === "}") {
      rules.push(toRule(pending, block, `${name}:${blockLine}`));
      block = undefined;
      pending = [];
      continue;
    }
    const tokens = splitWords(raw, name, lineNo);
    const key = (tokens[0] as string).toLowerCase();
    if (SCRIPTS.has(key)) {
      const { end, script } = skipScript(lines, i, name, lineNo);
      i = end;
      if (key === "postrotate") block.postRotate = script;
      else warn(lineNo, key, "only postrotate scripts are run");
      continue;
    }
    block = directive(block, tokens, lineNo, warn, name);
  }
  if (block !== undefined) throw new CofferError("INVALID", `${name}:${blockLine}: the block is not closed with "}".`, { file, line: blockLine });
  if (pending.length > 0) throw new CofferError("INVALID", `${name}: log files ${pending.join(" ")} are not followed by "{".`, { file });
  return { rules, warnings };
}

function directive(s: Settings, tokens: string[], line: number, warn: (line: number, d: string, why: string) => void, name: string): Settings {
  const [rawKey = "", ...args] = tokens;
  const key = rawKey.toLowerCase();
  const next = { ...s };
  const arg = (): string => {
    if (args[0] === undefined) throw new CofferError("INVALID", `${name}:${line}: "${key}" needs a value.`, { line });
    return args[0];
  };
  const int = (): number => {
    const v = arg();
    if (!/^-?\d+$/.test(v)) throw new CofferError("INVALID", `${name}:${line}: "${key} ${v}" needs a whole number.`, { line });
    return Number(v);
  };
  const size = (): number => parseByteSize(arg(), `${name}:${line}: ${key}`);
  switch (key) {
    case "hourly":
    case "daily":
    case "monthly":
    case "yearly":
      next.interval = key;
      next.size = undefined;
      break;
    case "weekly":
      next.interval = "weekly";
      next.size = undefined;
      if (args[0] !== undefined && args[0] !== "1") warn(line, `weekly ${args[0]}`, "coffer's week starts on Monday (ISO weeks)");
      break;
    case "size":
      next.size = size();
      next.interval = undefined;
      break;
    case "minsize":
      next.minSize = size();
      break;
    case "maxsize":
      next.maxSize = size();
      break;
    case "rotate":
      next.rotate = int();
      break;
    case "maxage":
      next.maxAge = int();
      break;
    case "minage":
      next.minAge = int();
      break;
    case "olddir":
      next.oldDir = arg();
      break;
    case "noolddir":
      next.oldDir = undefined;
      break;
    case "compress":
    case "nocompress":
      next.compress = key === "compress";
      break;
    case "delaycompress":
      next.delayCompress = true;
      break;
    case "compresscmd": {
      const cmd = basename(arg());
      if (cmd === "gzip" || cmd === "zstd") next.compressCmd = cmd;
      else warn(line, `compresscmd ${arg()}`, UNSUPPORTED.compresscmd as string);
      break;
    }
    case "compressoptions": {
      const m = /^-(\d{1,2})$/.exec(args.join(" "));
      if (m) next.compressLevel = Number(m[1]);
      else warn(line, `compressoptions ${args.join(" ")}`, UNSUPPORTED.compressoptions as string);
      break;
    }
    case "compressext": {
      const ok = (next.compressCmd === "gzip" && arg() === ".gz") || (next.compressCmd === "zstd" && arg() === ".zst");
      if (!ok) warn(line, `compressext ${arg()}`, UNSUPPORTED.compressext as string);
      break;
    }
    case "dateext":
    case "nodateext":
      next.dateExt = key === "dateext";
      break;
    case "dateformat":
      next.dateFormat = args.join(" ");
      break;
    case "dateyesterday":
      next.dateYesterday = true;
      break;
    case "copytruncate":
    case "nocopytruncate":
      next.copyTruncate = key === "copytruncate";
      break;
    case "create":
      next.create = {
        ...(args[0] !== undefined ? { mode: args[0] } : {}),
        ...(args[1] !== undefined ? { owner: args[1] } : {}),
        ...(args[2] !== undefined ? { group: args[2] } : {}),
      };
      break;
    case "nocreate":
      next.create = undefined;
      break;
    case "missingok":
    case "nomissingok":
      next.missingOk = key === "missingok";
      break;
    case "ifempty":
    case "notifempty":
      next.ifEmpty = key === "ifempty";
      break;
    case "sharedscripts":
      next.sharedScripts = true;
      break;
    default:
      if (HARMLESS.has(key)) break;
      warn(line, tokens.join(" "), UNSUPPORTED[key] ?? "coffer does not know this directive");
  }
  if (key === "nodelaycompress") next.delayCompress = false;
  if (key === "nosharedscripts") next.sharedScripts = false;
  if (key === "nodateyesterday") next.dateYesterday = false;
  return next;
}

function toRule(files: string[], s: Settings, where: string): RotateRule {
  return {
    name: where,
    files,
    size: s.size ?? null,
    interval: s.size !== undefined ? null : (s.interval ?? null),
    maxSize: s.maxSize ?? null,
    minSize: s.minSize ?? null,
    minAge: s.minAge !== undefined && s.minAge > 0 ? `${s.minAge * 24}h` : null,
    minAgeFrom: "modified",
    naming: s.dateExt ? "date" : "numbered",
    dateFormat: s.dateFormat ?? (s.interval === "hourly" && s.size === undefined ? "-%Y%m%d%H" : "-%Y%m%d"),
    nameDate: s.dateYesterday ? "yesterday" : "rotation",
    backupsDir: s.oldDir ?? ".",
    keep: 0,
    archiveDir: s.oldDir ?? ".",
    // logrotate 3.21 removes a copy more than maxage × 24 hours old (by its modification time).
    archiveMaxAge: s.maxAge !== undefined && s.maxAge > 0 ? `${s.maxAge * 24}h` : null,
    archiveKeep: s.rotate < 0 ? null : s.rotate,
    compress: s.compress ? s.compressCmd : "none",
    ...(s.compressLevel !== undefined ? { compressLevel: s.compressLevel } : {}),
    compressAfter: "0h",
    delayCompress: s.delayCompress,
    mode: s.copyTruncate ? "copytruncate" : s.create ? "create" : "rename",
    ...(s.create?.mode !== undefined ? { createMode: s.create.mode } : {}),
    ...(s.create?.owner !== undefined ? { createOwner: s.create.owner } : {}),
    ...(s.create?.group !== undefined ? { createGroup: s.create.group } : {}),
    missingOk: s.missingOk,
    ifEmpty: s.ifEmpty,
    ...(s.postRotate !== undefined ? { postRotate: s.postRotate } : {}),
    sharedScripts: s.sharedScripts,
    maintain: "on-rotation",
  };
}

/** The lines of a script up to `endscript`; returns the index of that line. */
function skipScript(lines: string[], start: number, name: string, lineNo: number): { end: number; script: string } {
  const body: string[] = [];
  for (let j = start + 1; j < lines.length; j++) {
    const l = lines[j] as string;
    if (l.trim() === "endscript") return { end: j, script: body.join("\n") };
    body.push(l);
  }
  throw new CofferError("INVALID", `${name}:${lineNo}: the script has no "endscript".`, { line: lineNo });
}

/** Words, with "double" and 'single' quotes; `{` and `}` are words of their own. */
function splitWords(line: string, name: string, lineNo: number): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|([{}])|([^\s"'{}]+)/g;
  // `size = 100k` and `size=100k` are `size 100k`.
  for (const m of line.replace(/^([a-z]+)\s*=\s*/i, "$1 ").matchAll(re)) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(m[2]);
    else if (m[3] !== undefined) out.push(m[3]);
    else if (m[4] !== undefined) out.push(m[4]);
  }
  if ((line.match(/"/g)?.length ?? 0) % 2 === 1) throw new CofferError("INVALID", `${name}:${lineNo}: an unclosed quote.`, { line: lineNo });
  return out;
}

function looksLikePath(word: string): boolean {
  return word.startsWith("/") || word.startsWith(".") || word.startsWith("~") || /[*?[\]]/.test(word) || word.includes("/");
}
