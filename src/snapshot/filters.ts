/**
 * What a backup leaves out, as data: the options, restic-style exclude patterns, gitignore
 * rules re-rooted so that one `ignore` instance holds a whole chain of ignore files, and the
 * CACHEDIR.TAG test. The scanner (scanner.ts) applies them while it walks.
 */
import ignore, { type Ignore } from "ignore";
import { CofferError } from "../core/errors.js";

export interface FilterOptions {
  /**
   * Glob patterns with restic's semantics. A pattern starting with "/" is matched against the
   * absolute path; any other pattern matches at any depth (a pattern without "/" matches a
   * name anywhere, "a/b" matches ".../a/b"). A pattern that matches a directory matches
   * everything below it. `*` and `?` do not cross "/", a whole "**" component matches any
   * number of components, `[a-z]`/`[^a]` are classes, `\` escapes. A leading "!" re-includes;
   * the last matching pattern wins, but nothing below an excluded directory is visited.
   */
  excludes?: string[];
  /** Files holding one pattern per line; lines are trimmed, blank and "#" lines ignored. */
  excludeFiles?: string[];
  /** Like `excludes`, matched case-insensitively. A separate list: its "!" re-includes only what it excluded. */
  iexcludes?: string[];
  /**
   * File names such as ".gitignore": wherever one is present, its rules apply to that
   * directory's subtree with gitignore semantics. ".cofferignore" is always honoured.
   */
  ignoreFiles?: string[];
  /** Keep a directory holding a valid CACHEDIR.TAG and the tag itself, but nothing else in it. */
  excludeCaches?: boolean;
  /** Regular files larger than this many bytes are left out. */
  excludeLargerThan?: number;
  /** Do not descend into directories on another device than their root path (mount points are kept, empty). */
  oneFileSystem?: boolean;
}

/** Always honoured, in addition to `ignoreFiles`. */
export const COFFER_IGNORE = ".cofferignore";
export const CACHEDIR_TAG = "CACHEDIR.TAG";
/** https://bford.info/cachedir/ — a tag file must start with exactly these bytes. */
export const CACHEDIR_SIGNATURE = Buffer.from("Signature: 8a477f597d28d172789f06886806bc55");

export function isCacheDirTag(head: Uint8Array): boolean {
  return head.length >= CACHEDIR_SIGNATURE.length && CACHEDIR_SIGNATURE.equals(head.subarray(0, CACHEDIR_SIGNATURE.length));
}

/** Lines of an exclude file that hold a pattern. */
export function patternLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

interface CompiledPattern {
  negated: boolean;
  re: RegExp;
  /** A single component without a leading "/": tested against the entry's name only. */
  nameOnly: boolean;
}

/**
 * One ordered list of exclude patterns. Matching is restic's: a pattern matches a path when
 * it matches the path or one of its ancestors. Ancestors are not re-tested for every entry:
 * a directory carries the set of patterns that matched it or an ancestor (`enter`), so the
 * work per entry is one test per pattern whatever the depth.
 */
export class PatternList {
  readonly hasNegation: boolean;
  /** Whether some pattern needs the whole path (not just the name). */
  readonly needsPath: boolean;

  private constructor(private readonly patterns: CompiledPattern[]) {
    this.hasNegation = patterns.some((p) => p.negated);
    this.needsPath = patterns.some((p) => !p.nameOnly);
  }

  static compile(patterns: readonly string[], nocase: boolean): PatternList {
    const out: CompiledPattern[] = [];
    for (const raw of patterns) {
      const negated = raw.startsWith("!");
      const body = negated ? raw.slice(1) : raw;
      const rooted = body.startsWith("/");
      const parts = cleanComponents(body);
      if (parts.length === 0) continue; // an empty pattern matches nothing
      const nameOnly = !rooted && parts.length === 1 && parts[0] !== "**";
      const comps = rooted || nameOnly ? parts : ["**", ...parts];
      let source: string;
      try {
        source = componentsToRegex(comps);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new CofferError("INVALID", `The exclude pattern "${raw}" is not valid (${why}).`, { pattern: raw });
      }
      out.push({ negated, nameOnly, re: new RegExp(source, nocase ? "iu" : "u") });
    }
    return new PatternList(out);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Whether the entry is excluded. `anc` is the set carried by its directory, `name` its
   * name and `path` its absolute path without the leading "/" (only read when `needsPath`).
   */
  excludes(anc: Uint8Array | undefined, name: string, path: string): boolean {
    let matched = false;
    const ps = this.patterns;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i] as CompiledPattern;
      if (p.negated) {
        // Only a later positive pattern can change "not matched" back.
        if (matched && (anc?.[i] === 1 || p.re.test(p.nameOnly ? name : path))) matched = false;
      } else if (!matched && (anc?.[i] === 1 || p.re.test(p.nameOnly ? name : path))) {
        matched = true;
        if (!this.hasNegation) return true;
      }
    }
    return matched;
  }

  /** The set a directory passes to its entries; undefined when it is empty. */
  enter(anc: Uint8Array | undefined, name: string, path: string): Uint8Array | undefined {
    // Without negations a directory that any pattern matched is excluded and never entered.
    if (!this.hasNegation) return undefined;
    let bits: Uint8Array | undefined;
    const ps = this.patterns;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i] as CompiledPattern;
      if (anc?.[i] === 1 || p.re.test(p.nameOnly ? name : path)) {
        bits ??= new Uint8Array(ps.length);
        bits[i] = 1;
      }
    }
    return bits;
  }

  /** The set for an absolute path given whole (a root): each ancestor is tested once. */
  enterPath(absPath: string): Uint8Array | undefined {
    let bits: Uint8Array | undefined;
    let path = "";
    for (const c of absPath.split("/")) {
      if (c === "") continue;
      path = path === "" ? c : `${path}/${c}`;
      this.patterns.forEach((p, i) => {
        if (bits?.[i] !== 1 && p.re.test(p.nameOnly ? c : path)) {
          bits ??= new Uint8Array(this.patterns.length);
          bits[i] = 1;
        }
      });
    }
    return bits;
  }

  /** Whether a path whose full set (ancestors and itself) is `bits` is excluded. */
  excludedBy(bits: Uint8Array | undefined): boolean {
    let matched = false;
    this.patterns.forEach((p, i) => {
      if (bits?.[i] === 1) matched = !p.negated;
    });
    return matched;
  }
}

/** Components of a pattern, cleaned like Go's filepath.Clean (restic does the same). */
function cleanComponents(body: string): string[] {
  const out: string[] = [];
  for (const c of body.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else out.push(c);
  }
  return out;
}

/** A "**" component matches zero or more whole components; others follow Go's filepath.Match. */
function componentsToRegex(comps: readonly string[]): string {
  let out = "";
  let needSlash = false;
  comps.forEach((c, i) => {
    if (c === "**") {
      if (needSlash) out += "(?:/[^/]*)*";
      else if (i === comps.length - 1) out += ".*";
      else out += "(?:[^/]*/)*";
    } else {
      out += (needSlash ? "/" : "") + componentToRegex(c);
      needSlash = true;
    }
  });
  return `^${out}$`;
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/;

function componentToRegex(c: string): string {
  let out = "";
  const chars = Array.from(c); // code points, like Go's runes
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === "*") {
      out += "[^/]*";
    } else if (ch === "?") {
      out += "[^/]";
    } else if (ch === "\\") {
      const next = chars[++i];
      if (next === undefined) throw new Error("it ends with a lone backslash");
      out += literal(next);
    } else if (ch === "[") {
      let j = i + 1;
      let cls = "[";
      if (chars[j] === "^") {
        cls += "^";
        j++;
      }
      let first = true;
      for (;;) {
        let lo = chars[j++];
        if (lo === undefined) throw new Error("a character class is not closed");
        if (lo === "]" && !first) break;
        first = false;
        if (lo === "\\") {
          lo = chars[j++];
          if (lo === undefined) throw new Error("a character class is not closed");
        }
        cls += classChar(lo);
        if (chars[j] === "-" && chars[j + 1] !== undefined && chars[j + 1] !== "]") {
          let hi = chars[j + 1] as string;
          j += 2;
          if (hi === "\\") {
            hi = chars[j++] ?? "";
            if (hi === "") throw new Error("a character class is not closed");
          }
          if (hi < lo) throw new Error("a character range is reversed");
          cls += `-${classChar(hi)}`;
        }
      }
      // Go's classes never match the separator.
      out += cls.startsWith("[^") ? `${cls}/]` : `(?!/)${cls}]`;
      i = j - 1;
    } else {
      out += literal(ch);
    }
  }
  return out;
}

function literal(ch: string): string {
  return REGEX_SPECIAL.test(ch) ? `\\${ch}` : ch;
}

function classChar(ch: string): string {
  return /[\\\]^\-[]/.test(ch) ? `\\${ch}` : ch;
}

/**
 * The rules of one ignore file, rewritten to apply from the scan root: a pattern with a "/"
 * at its start or middle is relative to the file's directory, any other matches at any depth
 * below it (git's rule). `dirRel` is the file's directory relative to the root ("" for the root).
 */
export function rerootIgnoreRules(text: string, dirRel: string): string[] {
  const out: string[] = [];
  const prefix = dirRel === "" ? "" : escapeIgnorePath(dirRel);
  for (let line of text.split("\n")) {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "" || line.startsWith("#")) continue;
    if (prefix === "") {
      out.push(line);
      continue;
    }
    const negated = line.startsWith("!");
    const body = negated ? line.slice(1) : line;
    const core = body.trimEnd().replace(/\/$/, "");
    if (core === "") continue;
    const anchored = core.includes("/");
    const rule = anchored ? `${prefix}/${body.replace(/^\//, "")}` : `${prefix}/**/${body}`;
    out.push(negated ? `!${rule}` : rule);
  }
  return out;
}

function escapeIgnorePath(p: string): string {
  return p.replace(/[\\*?[\]!#]/g, (c) => `\\${c}`);
}

/**
 * The gitignore rules active in one directory: its ancestors' files and its own, in one
 * `ignore` instance (deeper files come later, so they win, as in git). The instance caches
 * every path it answers for; it is renewed now and then so memory stays bounded on big trees.
 */
export class IgnoreRules {
  private ig: Ignore;
  private tests = 0;
  private static readonly RENEW_AFTER = 50_000;

  private constructor(ig: Ignore) {
    this.ig = ig;
  }

  static extend(parent: IgnoreRules | undefined, rules: readonly string[]): IgnoreRules {
    const ig = ignore({ ignorecase: false });
    if (parent) ig.add(parent.ig);
    ig.add(rules);
    return new IgnoreRules(ig);
  }

  /** `rel` is relative to the scan root. */
  ignores(rel: string, isDir: boolean): boolean {
    if (++this.tests > IgnoreRules.RENEW_AFTER) {
      this.ig = ignore({ ignorecase: false }).add(this.ig);
      this.tests = 0;
    }
    return this.ig.ignores(isDir ? `${rel}/` : rel);
  }
}
