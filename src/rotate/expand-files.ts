import { isAbsolute, join, resolve, sep } from "node:path";
import picomatch from "picomatch";
import { ioError, sysCode } from "../core/errors.js";
import type { RotateFs } from "./rotate-fs.js";

export interface ExpandedFiles {
  /** Absolute paths, in pattern order, each once. */
  paths: { path: string; pattern: string; fromGlob: boolean }[];
  /** Patterns that matched nothing (a plain path that does not exist counts). */
  unmatched: string[];
}

const GLOB = /[*?[\]{}]/;

/**
 * Expands the file list of a rule as logrotate's glob(3) does: wildcards within a path segment
 * (`*`, `?`, `[…]`, `{a,b}`), no `**`, hidden names only when the pattern starts with a dot.
 * Relative patterns are taken from `cwd`. Plain paths are returned whether or not they exist.
 */
export async function expandFiles(fs: RotateFs, patterns: readonly string[], cwd: string): Promise<ExpandedFiles> {
  const seen = new Set<string>();
  const out: ExpandedFiles = { paths: [], unmatched: [] };
  for (const pattern of patterns) {
    const abs = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
    let found: string[];
    if (!GLOB.test(abs)) {
      found = [abs];
    } else {
      found = (await expand(fs, abs)).sort();
      if (found.length === 0) out.unmatched.push(pattern);
    }
    for (const path of found) {
      if (seen.has(path)) continue;
      seen.add(path);
      out.paths.push({ path, pattern, fromGlob: GLOB.test(abs) });
    }
  }
  return out;
}

async function expand(fs: RotateFs, abs: string): Promise<string[]> {
  const segments = abs.split(sep).filter((s) => s !== "");
  let current: string[] = [sep];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      if (!GLOB.test(seg)) {
        next.push(join(dir, seg));
        continue;
      }
      const isMatch = picomatch(seg, { dot: seg.startsWith(".") });
      let entries: { name: string; isDirectory(): boolean; isSymbolicLink(): boolean }[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = sysCode(err);
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw ioError(err, `listing ${dir}`);
      }
      for (const e of entries) {
        if (!isMatch(e.name)) continue;
        if (!last && !e.isDirectory() && !e.isSymbolicLink()) continue;
        next.push(join(dir, e.name));
      }
    }
    current = next;
  }
  return current;
}
