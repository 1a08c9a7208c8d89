import picomatch from "picomatch";
import { CofferError } from "../core/errors.js";

/**
 * Which paths of a snapshot a restore selects, with restic's semantics. Paths are the
 * snapshot paths below the restore root ("/tmp/foo/a.txt"; below the sub-path when one is
 * given), matched with picomatch (`*` and `?` do not cross "/", a "**" component crosses any
 * number, dotfiles match).
 *
 * - A pattern starting with "/" is anchored at the root; any other matches at any depth
 *   ("a/b" matches "/x/a/b"). A pattern matches a path when it matches the path or one of its
 *   parents, so matching a directory matches everything below it.
 * - `exclude`: a matched path is left out, and nothing below it is visited.
 * - `include` (when given): only matched paths are restored, plus the directories that lead
 *   to them; a directory is only visited if something below it may match.
 */
export interface FilterDecision {
  /** Restore this path. */
  selected: boolean;
  /** Visit the children of this directory (always true when selected). */
  descend: boolean;
  /** Passed to the children: an ancestor was included. */
  included: boolean;
}

interface Pattern {
  source: string;
  /** Matches the whole path (relative, without the leading "/"). */
  full: (s: string) => boolean;
  /** Per component, for anchored patterns (null for "**"); undefined when not anchored. */
  parts?: (((s: string) => boolean) | null)[];
}

const OPTIONS = { dot: true };
const ALL_DIR: FilterDecision = Object.freeze({ selected: true, descend: true, included: false });
const ALL_OTHER: FilterDecision = Object.freeze({ selected: true, descend: false, included: false });

export class RestoreFilter {
  private constructor(
    private readonly includes: Pattern[],
    private readonly excludes: Pattern[],
  ) {}

  static create(include: readonly string[] = [], exclude: readonly string[] = []): RestoreFilter {
    return new RestoreFilter(include.map(compile).filter(isPattern), exclude.map(compile).filter(isPattern));
  }

  /** No patterns: everything is selected. */
  get all(): boolean {
    return this.includes.length === 0 && this.excludes.length === 0;
  }

  /** The root's decision: selected unless there are includes. */
  root(): FilterDecision {
    return { selected: this.includes.length === 0, descend: true, included: false };
  }

  /** Decides for `path` ("/a/b"), given its parent's decision. */
  decide(path: string, isDir: boolean, parent: FilterDecision): FilterDecision {
    if (this.includes.length === 0 && this.excludes.length === 0) return isDir ? ALL_DIR : ALL_OTHER;
    const rel = path.replace(/^\/+/, "");
    if (this.excludes.some((p) => p.full(rel))) return { selected: false, descend: false, included: false };
    if (this.includes.length === 0 || parent.included) return { selected: true, descend: isDir, included: parent.included };
    if (this.includes.some((p) => p.full(rel))) return { selected: true, descend: isDir, included: true };
    return { selected: false, descend: isDir && this.includes.some((p) => childMayMatch(p, rel)), included: false };
  }
}

function isPattern(p: Pattern | undefined): p is Pattern {
  return p !== undefined;
}

function compile(source: string): Pattern | undefined {
  const anchored = source.startsWith("/");
  const comps = source.split("/").filter((c) => c !== "" && c !== ".");
  if (comps.length === 0) return undefined; // an empty pattern matches nothing
  if (comps.includes("..")) throw new CofferError("USAGE", `The pattern "${source}" holds "..", which restore patterns do not allow.`, { pattern: source });
  const body = comps.join("/");
  try {
    // A pattern matches a path or a parent of it: "/**" lets it match everything below.
    const glob = anchored ? body : `**/${body}`;
    const m = picomatch([glob, `${glob}/**`], OPTIONS);
    return {
      source,
      full: m,
      ...(anchored ? { parts: comps.map((c) => (c === "**" ? null : picomatch(c, OPTIONS))) } : {}),
    };
  } catch (err) {
    throw new CofferError("USAGE", `The pattern "${source}" is not valid: ${(err as Error).message}`, { pattern: source });
  }
}

/** Whether something below the directory `rel` may match (restic's childMatch). */
function childMayMatch(p: Pattern, rel: string): boolean {
  if (!p.parts) return true; // matches at any depth
  const comps = rel === "" ? [] : rel.split("/");
  for (let i = 0; i < comps.length; i++) {
    const m = p.parts[i];
    if (m === undefined) return false; // the pattern is shorter and did not match
    if (m === null) return true; // "**" can reach anything below
    if (!m(comps[i] as string)) return false;
  }
  return comps.length < p.parts.length;
}
