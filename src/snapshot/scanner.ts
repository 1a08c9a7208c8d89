import { type BigIntStats, lstat as lstatCb } from "node:fs";
import * as fsp from "node:fs/promises";
import { posix } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import type { Warning } from "../core/warning.js";
import { mapLimit } from "../repository/map-limit.js";
import { type EntryStat, type ListedEntry, statNumber } from "./entry-stat.js";
import { childPath } from "./child-path.js";
import {
  CACHEDIR_SIGNATURE,
  CACHEDIR_TAG,
  COFFER_IGNORE,
  type FilterOptions,
  IgnoreRules,
  isCacheDirTag,
  PatternList,
  patternLines,
  rerootIgnoreRules,
} from "./filters.js";

/** Paths are raw bytes: names need not be valid UTF-8. */
export interface ScanEntry {
  name: Buffer;
  path: Buffer;
  stat: EntryStat;
}

declare const dirScopeBrand: unique symbol;
/** The filter state for one directory (active ignore rules, root device, ...); opaque to callers. */
export interface DirScope {
  readonly [dirScopeBrand]: true;
}

/** The file system calls the scanner makes; tests pass a fake. */
export interface ScanFs {
  readdir(dir: Buffer): Promise<Buffer[]>;
  lstat(path: Buffer): Promise<BigIntStats>;
  readFile(path: Buffer | string): Promise<Buffer>;
  /** At most `n` bytes from the start of a file. */
  readHead(path: Buffer, n: number): Promise<Buffer>;
  /**
   * Synchronous forms of readdir and lstat, when the file system has them: a directory is
   * then read without a promise per entry (which cost more than the system calls).
   */
  sync?: {
    readdir(dir: Buffer): Buffer[];
    lstat(path: Buffer): BigIntStats;
    /**
     * A directory's entries with their lstat results in one call (the native addon's
     * `scandir`): no fs object per entry. Entries it holds are lstat'ed even when a pattern
     * excludes them; their errors are then ignored. Undefined: not available, use the others.
     */
    list?(dir: Buffer): ListedEntry[] | undefined;
  };
}

export const nodeScanFs: ScanFs = {
  readdir: (dir) => fsp.readdir(dir, { encoding: "buffer", withFileTypes: false }),
  // The callback API: fs/promises costs about twice as much per call, which shows at 20k entries.
  lstat: (p) => new Promise((resolve, reject) => lstatCb(p, { bigint: true }, (err, st) => (err ? reject(err) : resolve(st)))),
  readFile: (p) => fsp.readFile(p),
  async readHead(p, n) {
    const fh = await fsp.open(p, "r");
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  },
};

/** What one directory passes down; fixed once the directory has been read. */
interface DirState {
  /** Absolute and normalized. */
  dir: Buffer;
  /** `dir` decoded for matching (invalid UTF-8 becomes U+FFFD), without the leading "/". */
  abs: string;
  /** `dir` relative to its root ("" for the root): what gitignore rules see. */
  rel: string;
  /** Patterns that matched `dir` or an ancestor (PatternList.enter). */
  ex: Uint8Array | undefined;
  iex: Uint8Array | undefined;
  ignore: IgnoreRules | undefined;
  rootDev: bigint;
  /** A mount point of another file system under one-file-system: kept, but empty. */
  foreign: boolean;
}

/** A directory's entries and the scope for its subdirectories. */
export interface Listing {
  entries: ScanEntry[];
  scope: DirScope;
}

/** What `filter` keeps of a directory. */
interface Kept {
  entries: ScanEntry[];
  /** (latin1) names of subdirectories on another device, under one-file-system. */
  foreign: Set<string> | undefined;
}

type Scope =
  | { kind: "root"; state: DirState }
  /** For the subdirectories of `parent`; `foreign` holds (latin1) names of those on another device. */
  | { kind: "children"; parent: DirState; foreign: Set<string> | undefined };

const LSTAT_CONCURRENCY = 64;
const SLASH = 0x2f;
const CACHEDIR_TAG_NAME = Buffer.from(CACHEDIR_TAG);

/**
 * Reads directories for a backup, one at a time, applying every filter of FilterOptions.
 * The walk itself (order, recursion, concurrency across directories) belongs to the caller:
 * `rootScope` for each root path, then `readDir` on the root and on every directory entry it
 * returns, passing the scope returned with that directory's parent.
 */
export class Scanner {
  private readonly ignoreNames: Buffer[];

  private constructor(
    private readonly ex: PatternList,
    private readonly iex: PatternList,
    ignoreNames: string[],
    private readonly opts: FilterOptions,
    private readonly onWarning: (w: Warning) => void,
    private readonly fs: ScanFs,
  ) {
    // .cofferignore last: its rules win over the other files of the same directory.
    const names = [...new Set([...ignoreNames.filter((n) => n !== COFFER_IGNORE), COFFER_IGNORE])];
    this.ignoreNames = names.map((n) => Buffer.from(n));
  }

  /** Reads the exclude files; a missing one is an error (INVALID). */
  static async create(opts: FilterOptions, onWarning: (w: Warning) => void, fs: ScanFs = nodeScanFs): Promise<Scanner> {
    const excludes = [...(opts.excludes ?? [])];
    for (const file of opts.excludeFiles ?? []) {
      let text: string;
      try {
        text = (await fs.readFile(file)).toString("utf8");
      } catch (err) {
        if (sysCode(err) === "ENOENT") {
          throw new CofferError("INVALID", `The exclude file ${file} does not exist; check the path or remove the option.`, { file });
        }
        throw ioError(err, `reading the exclude file ${file}`);
      }
      excludes.push(...patternLines(text));
    }
    const ignoreNames = opts.ignoreFiles ?? [];
    for (const n of ignoreNames) {
      if (n === "" || n.includes("/") || n === "." || n === "..") {
        throw new CofferError("INVALID", `The ignore file "${n}" must be a plain file name such as .gitignore.`, { name: n });
      }
    }
    const max = opts.excludeLargerThan;
    if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0)) {
      throw new CofferError("INVALID", `The size limit ${max} is not a whole number of bytes.`, { excludeLargerThan: max });
    }
    return new Scanner(PatternList.compile(excludes, false), PatternList.compile(opts.iexcludes ?? [], true), ignoreNames, opts, onWarning, fs);
  }

  /** Scope for a root path given on the command line (absolute; its own lstat is passed in). */
  rootScope(root: Buffer, stat: EntryStat): DirScope {
    const dir = normalizeRoot(root);
    const abs = dir.toString("utf8").slice(1);
    const state: DirState = {
      dir,
      abs,
      rel: "",
      ex: this.ex.enterPath(abs),
      iex: this.iex.enterPath(abs),
      ignore: undefined,
      rootDev: stat.dev,
      foreign: false,
    };
    return asScope({ kind: "root", state });
  }

  /** Whether a root path given on the command line is itself excluded (patterns, size limit). */
  excludesRoot(root: Buffer, stat: EntryStat): boolean {
    const abs = normalizeRoot(root).toString("utf8").slice(1);
    return this.ex.excludedBy(this.ex.enterPath(abs)) || this.iex.excludedBy(this.iex.enterPath(abs)) || this.tooLarge(stat);
  }

  /**
   * Reads one directory: entries sorted by raw name bytes, filtered, each lstat'ed, plus the
   * scope for its subdirectories. An entry that vanishes before its lstat is skipped silently;
   * one that cannot be lstat'ed is skipped with an UNREADABLE warning. A directory that cannot
   * be read throws CofferError("IO"); the caller reports it and goes on.
   */
  async readDir(dir: Buffer, scope: DirScope): Promise<Listing> {
    return this.readDirNow(dir, scope);
  }

  /**
   * readDir without a promise when nothing needs waiting for: the file system has
   * synchronous calls, and there is no ignore file or cache tag to read (the walk reads
   * every directory, most of them small).
   */
  readDirNow(dir: Buffer, scope: DirScope): Listing | Promise<Listing> {
    const st = this.stateFor(dir, scope as unknown as Scope);
    if (st.foreign) return { entries: [], scope: asScope({ kind: "children", parent: st, foreign: undefined }) };
    const sync = this.fs.sync;
    if (sync === undefined || this.opts.excludeCaches) return this.readDirLater(st);
    const { names, listed } = this.listSync(st.dir, sync);
    if (this.hasIgnoreFile(names)) return this.loadIgnoreFiles(st, names).then((ignore) => this.filter(st, names, listed, ignore));
    return this.filter(st, names, listed, st.ignore);
  }

  /** readDir's every step, awaiting what needs it. */
  private async readDirLater(st: DirState): Promise<Listing> {
    const sync = this.fs.sync;
    let names: Buffer[];
    let listed: ListedEntry[] | undefined;
    if (sync) {
      ({ names, listed } = this.listSync(st.dir, sync));
    } else {
      try {
        names = (await this.fs.readdir(st.dir)).sort(Buffer.compare);
      } catch (err) {
        throw ioError(err, `reading the directory ${show(st.dir)}`);
      }
    }
    if (this.opts.excludeCaches) {
      const kept = await this.cacheDirOnly(st.dir, names);
      if (kept !== names) {
        listed = listed?.filter((e) => kept.includes(e.name));
        names = kept;
      }
    }
    const ignore = this.hasIgnoreFile(names) ? await this.loadIgnoreFiles(st, names) : st.ignore;
    return this.filter(st, names, listed, ignore);
  }

  /** A directory's names sorted by their bytes, with their lstat results when the fs lists them. */
  private listSync(dir: Buffer, sync: NonNullable<ScanFs["sync"]>): { names: Buffer[]; listed: ListedEntry[] | undefined } {
    try {
      const listed = sync.list?.(dir);
      if (listed) sortByName(listed);
      return listed ? { names: listed.map((e) => e.name), listed } : { names: sync.readdir(dir).sort(Buffer.compare), listed: undefined };
    } catch (err) {
      throw ioError(err, `reading the directory ${show(dir)}`);
    }
  }

  /** The entries of `names` that the filters keep, each lstat'ed, and the scope for the subdirectories. */
  private filter(st: DirState, names: Buffer[], listed: ListedEntry[] | undefined, ignore: IgnoreRules | undefined): Listing | Promise<Listing> {
    // Patterns need only the name, so excluded entries are never lstat'ed (unless listed).
    const patterns = !(this.ex.empty && this.iex.empty);
    const decode = patterns || ignore !== undefined;
    const sync = this.fs.sync;
    const kept: Kept = { entries: [], foreign: undefined };
    if (sync) {
      // One pass, no object per entry beyond its ScanEntry: this runs for every entry of a backup.
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as Buffer;
        const str = decode ? name.toString("utf8") : "";
        if (patterns && this.excludedByPattern(st, str)) continue;
        const path = childPath(st.dir, name);
        const l = listed?.[i];
        const stat = l ? (l.stat ?? this.lstatFailed(path, l.error)) : this.lstatEntrySync(sync, path);
        if (stat !== undefined) this.keep(st, ignore, name, str, path, stat, kept);
      }
      return this.listing(st, ignore, kept);
    }
    const candidates: { name: Buffer; str: string; path: Buffer }[] = [];
    for (const name of names) {
      const str = decode ? name.toString("utf8") : "";
      if (patterns && this.excludedByPattern(st, str)) continue;
      candidates.push({ name, str, path: childPath(st.dir, name) });
    }
    return mapLimit(candidates, LSTAT_CONCURRENCY, (c) => this.lstatEntry(c.path)).then((stats) => {
      candidates.forEach((c, i) => {
        const stat = stats[i];
        if (stat !== undefined) this.keep(st, ignore, c.name, c.str, c.path, stat, kept);
      });
      return this.listing(st, ignore, kept);
    });
  }

  /** Adds an lstat'ed entry to `kept` unless a filter drops it. */
  private keep(st: DirState, ignore: IgnoreRules | undefined, name: Buffer, str: string, path: Buffer, stat: EntryStat, kept: Kept): void {
    const isDir = stat.isDirectory();
    if (this.opts.oneFileSystem && stat.dev !== st.rootDev) {
      if (!isDir) return;
      (kept.foreign ??= new Set()).add(name.toString("latin1"));
    }
    if (this.tooLarge(stat)) return;
    if (ignore?.ignores(st.rel === "" ? str : `${st.rel}/${str}`, isDir)) return;
    kept.entries.push({ name, path, stat });
  }

  private listing(st: DirState, ignore: IgnoreRules | undefined, kept: Kept): Listing {
    const parent = ignore === st.ignore ? st : { ...st, ignore };
    return { entries: kept.entries, scope: asScope({ kind: "children", parent, foreign: kept.foreign }) };
  }

  private stateFor(dir: Buffer, scope: Scope): DirState {
    if (scope.kind === "root") {
      if (!normalizeRoot(dir).equals(scope.state.dir)) throw wrongScope(dir);
      return scope.state;
    }
    const parent = scope.parent;
    const prefixLen = parent.dir.length === 1 ? 1 : parent.dir.length + 1;
    const isChild =
      dir.length > prefixLen &&
      dir.subarray(0, parent.dir.length).equals(parent.dir) &&
      dir[prefixLen - 1] === SLASH &&
      dir.indexOf(SLASH, prefixLen) === -1;
    if (!isChild) throw wrongScope(dir);
    const name = dir.subarray(prefixLen);
    const str = name.toString("utf8");
    const abs = parent.abs === "" ? str : `${parent.abs}/${str}`;
    return {
      dir,
      abs,
      rel: parent.rel === "" ? str : `${parent.rel}/${str}`,
      ex: this.ex.enter(parent.ex, str, abs),
      iex: this.iex.enter(parent.iex, str, abs),
      ignore: parent.ignore,
      rootDev: parent.rootDev,
      foreign: scope.foreign?.has(name.toString("latin1")) ?? false,
    };
  }

  private excludedByPattern(st: DirState, name: string): boolean {
    const path = this.ex.needsPath || this.iex.needsPath ? (st.abs === "" ? name : `${st.abs}/${name}`) : "";
    return (!this.ex.empty && this.ex.excludes(st.ex, name, path)) || (!this.iex.empty && this.iex.excludes(st.iex, name, path));
  }

  private tooLarge(stat: EntryStat): boolean {
    const max = this.opts.excludeLargerThan;
    return max !== undefined && stat.isFile() && statNumber(stat, "size") > max;
  }

  /** Never rejects: undefined for an entry that is gone or cannot be lstat'ed (with a warning). */
  private lstatEntry(path: Buffer): Promise<BigIntStats | undefined> {
    return this.fs.lstat(path).catch((err: unknown) => this.lstatFailed(path, err));
  }

  private lstatEntrySync(sync: NonNullable<ScanFs["sync"]>, path: Buffer): BigIntStats | undefined {
    try {
      return sync.lstat(path);
    } catch (err) {
      return this.lstatFailed(path, err);
    }
  }

  private lstatFailed(path: Buffer, err: unknown): undefined {
    const code = sysCode(err);
    if (code !== "ENOENT" && code !== "ENOTDIR") {
      this.onWarning({ code: "UNREADABLE", message: `Cannot read ${show(path)}: ${errMessage(err)}; it was skipped.`, path: show(path) });
    }
    return undefined;
  }

  /** A directory with a valid CACHEDIR.TAG keeps only the tag. */
  private async cacheDirOnly(dir: Buffer, names: Buffer[]): Promise<Buffer[]> {
    const tag = names.find((n) => n.equals(CACHEDIR_TAG_NAME));
    if (tag === undefined) return names;
    const path = childPath(dir, tag);
    try {
      // lstat first: reading a FIFO named CACHEDIR.TAG would block.
      if (!(await this.fs.lstat(path)).isFile()) return names;
      if (isCacheDirTag(await this.fs.readHead(path, CACHEDIR_SIGNATURE.length))) return [tag];
    } catch (err) {
      if (sysCode(err) !== "ENOENT") {
        this.onWarning({ code: "UNREADABLE", message: `Cannot read ${show(path)}: ${errMessage(err)}; the directory is backed up as if it had no tag.`, path: show(path) });
      }
    }
    return names;
  }

  /** Whether a directory has an entry named as an ignore file (checked for every directory, without allocating). */
  private hasIgnoreFile(names: Buffer[]): boolean {
    for (const ign of this.ignoreNames) {
      for (const n of names) if (n.length === ign.length && n.equals(ign)) return true;
    }
    return false;
  }

  /** The rules for this directory's entries: the inherited ones plus this directory's ignore files. */
  private async loadIgnoreFiles(st: DirState, names: Buffer[]): Promise<IgnoreRules | undefined> {
    const present = this.ignoreNames.filter((ign) => names.some((n) => n.length === ign.length && n.equals(ign)));
    if (present.length === 0) return st.ignore;
    const rules: string[] = [];
    for (const ign of present) {
      const path = childPath(st.dir, ign);
      try {
        if (!(await this.fs.lstat(path)).isFile()) continue;
        rules.push(...rerootIgnoreRules((await this.fs.readFile(path)).toString("utf8"), st.rel));
      } catch (err) {
        if (sysCode(err) !== "ENOENT") {
          this.onWarning({ code: "UNREADABLE", message: `Cannot read the ignore file ${show(path)}: ${errMessage(err)}; its rules were not applied.`, path: show(path) });
        }
      }
    }
    return rules.length > 0 ? IgnoreRules.extend(st.ignore, rules) : st.ignore;
  }
}

function asScope(s: Scope): DirScope {
  return s as unknown as DirScope;
}

function wrongScope(dir: Buffer): CofferError {
  return new CofferError("INVALID", `The scope passed to readDir does not belong to ${show(dir)}; pass the scope returned for its parent directory.`);
}

/** Absolute, without "." / ".." / duplicate or trailing slashes; bytes are kept as they are: a root as the walk spells it. */
export function normalizeRoot(root: Buffer): Buffer {
  if (root[0] !== SLASH) {
    throw new CofferError("INVALID", `The path ${show(root)} is not absolute; resolve it before scanning.`);
  }
  let s = posix.normalize(root.toString("latin1")); // latin1 maps bytes 1:1
  if (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return Buffer.from(s, "latin1");
}

/** Sorts entries by the bytes of their names: small listings (most) by insertion, without the workspace Array#sort allocates. */
function sortByName(entries: ListedEntry[]): void {
  if (entries.length > 16) {
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    return;
  }
  for (let i = 1; i < entries.length; i++) {
    const e = entries[i] as ListedEntry;
    let j = i - 1;
    for (; j >= 0 && Buffer.compare((entries[j] as ListedEntry).name, e.name) > 0; j--) entries[j + 1] = entries[j] as ListedEntry;
    entries[j + 1] = e;
  }
}

function show(p: Buffer): string {
  return p.toString("utf8");
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
