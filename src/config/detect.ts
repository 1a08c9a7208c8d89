/**
 * What `coffer config init` finds in a project folder to suggest: SQLite databases (by their
 * header, not their name), log folders, an ignore file, and folders that are caches or
 * dependencies. A bounded walk: a few levels deep, a few thousand entries.
 */
import { open, readdir } from "node:fs/promises";
import { join, relative } from "node:path";

export interface ProjectFacts {
  /** Relative paths of SQLite database files. */
  databases: string[];
  /** Relative globs of log files, one per folder holding some: `logs/*.log`. */
  logs: string[];
  /** Ignore files present at the top (.gitignore). */
  ignoreFiles: string[];
  /** Names of dependency and cache folders found, to exclude. */
  excludes: string[];
}

const SKIP = new Set([".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".pytest_cache", ".mypy_cache", ".cache", ".coffer"]);
const EXCLUDE = ["node_modules", ".venv", "venv", "__pycache__", ".tox", ".pytest_cache", ".mypy_cache", ".cache"];
const DB_EXT = /\.(db|sqlite|sqlite3|db3)$/i;
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

export async function detectProject(dir: string, limits = { depth: 4, entries: 5000 }): Promise<ProjectFacts> {
  const facts: ProjectFacts = { databases: [], logs: [], ignoreFiles: [], excludes: [] };
  const excludes = new Set<string>();
  let budget = limits.entries;
  const walk = async (d: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    let hasLog = false;
    for (const e of entries) {
      if (--budget < 0) return;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (EXCLUDE.includes(e.name)) excludes.add(e.name);
        if (!SKIP.has(e.name) && depth < limits.depth) await walk(p, depth + 1);
      } else if (e.isFile()) {
        if (e.name.endsWith(".log")) hasLog = true;
        if (DB_EXT.test(e.name) && (await isSqlite(p))) facts.databases.push(relative(dir, p));
      }
    }
    if (hasLog) facts.logs.push(relative(dir, join(d, "*.log")));
  };
  await walk(dir, 0);
  try {
    const top = await readdir(dir);
    if (top.includes(".gitignore")) facts.ignoreFiles.push(".gitignore");
  } catch {
    // an unreadable folder: nothing to suggest
  }
  facts.excludes = EXCLUDE.filter((n) => excludes.has(n));
  return facts;
}

async function isSqlite(path: string): Promise<boolean> {
  try {
    const fh = await open(path, "r");
    try {
      const head = Buffer.alloc(16);
      const { bytesRead } = await fh.read(head, 0, 16, 0);
      return bytesRead === 16 && head.equals(SQLITE_HEADER);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}
