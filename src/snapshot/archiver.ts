import type { BigIntStats } from "node:fs";
import { lstat } from "node:fs/promises";
import { hostname as osHostname, userInfo } from "node:os";
import { resolve as resolvePath } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { collectGarbage } from "../core/gc.js";
import { type Progress, silentProgress } from "../core/progress.js";
import { PROGRAM } from "../core/version.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { Lock, stopError, withLockSignal } from "../repository/lock.js";
import { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import { ArchivePool } from "./archive-pool.js";
import { ArchiveWalk, type Trie } from "./archive-walk.js";
import { startMetadataPrefetch } from "./metadata-prefetch.js";
import { startListAhead, stopListAhead } from "./list-ahead.js";
import type { FilterOptions } from "./filters.js";
import { NameLookup } from "./names.js";
import { ParentTrees } from "./parent-trees.js";
import { discardTreePrefetch, prestartTreePrefetch, TreePrefetch } from "./tree-prefetch.js";
import { recordFilters, resolveExcludeFiles } from "./recorded-filters.js";
import { Scanner } from "./scanner.js";
import { isLiveSqlite, sqliteWalWarning } from "./sqlite-wal.js";
import { syncScanFs } from "./sync-scan-fs.js";
import type { RetentionOverride, Snapshot, SnapshotFilters, SnapshotKind, SnapshotSummary, SnapshotWithId, ChangeInfo } from "./snapshot.js";
import { listSnapshots, saveSnapshot } from "./snapshot-store.js";
import type { TreeNode } from "./tree.js";

export interface BackupOptions {
  paths: string[];
  filters?: FilterOptions;
  tags?: string[];
  label?: string;
  description?: string;
  kind?: SnapshotKind;
  source?: string;
  retention?: RetentionOverride;
  change?: ChangeInfo;
  /** Override the host name recorded (and used to find the parent). */
  host?: string;
  /** Override the snapshot time. */
  time?: Date;
  /** A parent snapshot id, or false to read every file. Default: the latest with the same host and paths (or source). */
  parent?: string | false;
  dryRun?: boolean;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
  workers?: number;
  /**
   * Files stored with the content and metadata of another file: absolute snapshot path → the
   * file read in its place (a consistent copy of a live SQLite database, a command's output).
   * A substituted path may be one of `paths` (it need not exist itself) or lie inside one; its
   * SQLite companions (`-wal`, `-shm`, `-journal` beside it) are left out of the walk.
   */
  substitutes?: ReadonlyMap<string, string>;
}

export interface BackupResult {
  /** Undefined on a dry run. */
  snapshot?: SnapshotWithId;
  parent?: string;
  summary: SnapshotSummary;
  /** Some files could not be read (exit code 3). */
  partial: boolean;
  warnings: Warning[];
  dryRun: boolean;
}

/**
 * Backs up paths into a new snapshot. Unchanged files (same size, mtime, ctime, inode, mode as
 * in the parent snapshot) reuse the parent's content without being read. Unreadable files are
 * warned about and left out; the snapshot is still written and `partial` says so.
 * Order of writes: packs, then index, then the snapshot.
 */
export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const started = repo.clock();
  const warnings: Warning[] = [];
  const warn = (w: Warning): void => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  const roots = await resolveRoots(opts.paths, opts.substitutes).catch((err: unknown) => {
    stopListAhead();
    throw err;
  });
  const dirRoots = roots.filter((r) => r.stat.isDirectory()).map((r) => r.bytes);
  // Directories are listed ahead of the walk (started by prepareBackup, or now).
  startListAhead(dirRoots);
  // The tree's metadata is read ahead while the lock, the index and the parent are loaded.
  const stopPrefetch = startMetadataPrefetch(dirRoots);
  const host = opts.host ?? osHostname();
  let lock: Lock | undefined;
  try {
    lock = opts.dryRun ? undefined : await Lock.acquire(repo, { exclusive: false, onWarning: warn });
    if (repo.index.files.size === 0) await repo.loadIndex();
    const parent = await findParent(repo, opts, host, roots.map((r) => r.path));
    const filters = await resolveExcludeFiles(opts.filters ?? {});
    const scanner = await Scanner.create(filters, warn, syncScanFs);
    const saver = new PackSaver(repo);
    // A lost lock stops the walk as an interruption does (with LOCK_LOST), not only the snapshot's save.
    const signal = withLockSignal(opts.signal, lock);
    const pool = opts.dryRun ? undefined : new ArchivePool(repo, saver, opts.workers, signal);
    const trees = parentTrees(repo, parent);
    const ctx = new ArchiveWalk(repo, scanner, saver, pool, trees, new NameLookup(), warn, opts.progress ?? silentProgress, signal, opts.substitutes);
    await warnLiveSqliteRoots(roots, opts.substitutes, warn);
    // Reading the index and the snapshots left tens of MB of parsed JSON behind.
    collectGarbage();
    // The parent's totals are a free estimate for the progress display's ETA.
    if (parent?.summary) ctx.estimate = { files: parent.summary.files_total, bytes: parent.summary.bytes_total };
    try {
      const trie = buildRootTrie(roots);
      let treeId: string;
      if (trie.root) {
        // Backing up "/" itself: the snapshot's root tree is that directory's listing.
        const r = trie.root;
        const old = parent ? ({ name: "", type: "dir", subtree: parent.tree } as TreeNode) : undefined;
        const node = await (await ctx.entry(Buffer.alloc(0), r.bytes, r.stat, old, scanner.rootScope(r.bytes, r.stat))).value;
        if (!node?.subtree) throw new CofferError("IO", "The root directory could not be read; nothing was backed up.");
        treeId = node.subtree;
      } else {
        const parentTree = parent ? await trees.root(parent.tree) : undefined;
        treeId = await (await ctx.virtualDir(trie, parentTree)).value;
      }
      const interrupted = (): void => {
        if (signal?.aborted) throw stopError(signal, "The backup was interrupted; no snapshot was saved.");
      };
      interrupted();
      // The walk is done: the parent's trees (the prefetch worker's isolate) are not needed.
      await trees.close();
      if (pool) {
        await pool.flush();
        // Every pack of the workers is saved: their isolates and buffers (tens of MB) go
        // before the last tree pack, the last index file and the index cache are built.
        await pool.close();
      }
      // Writing the last index file builds it whole: start from a collected heap.
      collectGarbage();
      if (!opts.dryRun) {
        await saver.flush();
        // Every pack is in an index file now: the next command starts from this index.
        await repo.cacheIndex();
      }
      // The last moment to stop: after this the snapshot exists.
      interrupted();
      const finished = repo.clock();
      const summary: SnapshotSummary = {
        ...ctx.counts,
        bytes_added: saver.bytesAdded,
        blobs_added: saver.blobsAdded,
        started: started.toISOString(),
        finished: finished.toISOString(),
        duration_s: (finished.getTime() - started.getTime()) / 1000,
      };
      ctx.progress.done();
      const partial = ctx.counts.files_failed > 0;
      if (opts.dryRun) return { summary, partial, warnings, dryRun: true, ...(parent ? { parent: parent.id } : {}) };
      const snap: Snapshot = {
        time: (opts.time ?? started).toISOString(),
        hostname: host,
        username: safeUser(),
        ...(typeof process.getuid === "function" ? { uid: process.getuid(), gid: process.getgid?.() ?? 0 } : {}),
        ...(opts.source ? { source: opts.source } : {}),
        paths: roots.map((r) => r.path),
        tree: treeId,
        ...(parent ? { parent: parent.id } : {}),
        tags: opts.tags ?? [],
        kind: opts.kind ?? "manual",
        ...(opts.label ? { label: opts.label } : {}),
        ...(opts.description ? { description: opts.description } : {}),
        ...(opts.retention ? { retention: opts.retention } : {}),
        ...(opts.change ? { change: opts.change } : {}),
        ...withFilters(filters, opts.filters?.excludeFiles),
        summary,
        program: PROGRAM,
      };
      const id = await saveSnapshot(repo, snap);
      return { snapshot: { ...snap, id }, summary, partial, warnings, dryRun: false, ...(parent ? { parent: parent.id } : {}) };
    } catch (err) {
      ctx.progress.done();
      await saver.abandon().catch(() => undefined);
      throw err;
    } finally {
      await trees.close();
      await pool?.close();
    }
  } finally {
    stopPrefetch();
    stopListAhead();
    await lock?.release();
  }
}

interface Root {
  path: string;
  bytes: Buffer;
  stat: BigIntStats;
}

/** Checks that every path exists (before anything, even a repository, is created). */
export async function checkPaths(paths: string[], substitutes?: ReadonlyMap<string, string>): Promise<void> {
  await resolveRoots(paths, substitutes);
}

async function resolveRoots(paths: string[], substitutes: ReadonlyMap<string, string> | undefined): Promise<Root[]> {
  if (paths.length === 0) throw new CofferError("USAGE", "Name at least one path to back up.");
  const roots: Root[] = [];
  for (const p of paths) {
    const abs = resolvePath(p);
    const from = substitutes?.get(abs) ?? abs;
    let stat: BigIntStats;
    try {
      stat = await lstat(from, { bigint: true });
    } catch (err) {
      if (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR") {
        throw new CofferError("PATH_MISSING", `The path ${p} does not exist; nothing was backed up.`, { path: p });
      }
      throw ioError(err, `reading ${p}`);
    }
    roots.push({ path: abs, bytes: Buffer.from(from), stat });
  }
  // A path inside another given path is already covered by it.
  // By code unit, not localeCompare: a collator loads ICU's data, some 3 MB of resident memory.
  roots.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return roots.filter((r) => !roots.some((o) => o !== r && (r.path === o.path ? roots.indexOf(o) < roots.indexOf(r) : r.path.startsWith(o.path.endsWith("/") ? o.path : `${o.path}/`))));
}

async function findParent(repo: Repository, opts: BackupOptions, host: string, paths: string[]): Promise<SnapshotWithId | undefined> {
  if (opts.parent === false) return undefined;
  const all = await listSnapshots(repo);
  if (typeof opts.parent === "string") {
    const found = all.find((s) => s.id.startsWith(opts.parent as string));
    if (!found) throw new CofferError("NOT_FOUND", `The parent snapshot ${opts.parent} does not exist.`);
    return found;
  }
  const key = [...paths].sort().join("\0");
  const same = all.filter((s) => (opts.source ? s.source === opts.source : s.hostname === host && [...s.paths].sort().join("\0") === key));
  return same[same.length - 1];
}

/** Below this many directories in the parent, starting a worker to read its trees ahead costs more than it saves. */
const PREFETCH_MIN_DIRS = 256;

/**
 * The parent's trees: read ahead by a worker, when there are enough of them, from a local
 * repository or from the local cache of a remote one (which holds its tree packs laid out
 * the same way; a tree the cache lacks is loaded through the repository as before).
 */
function parentTrees(repo: Repository, parent: SnapshotWithId | undefined): ParentTrees {
  const root = repo.backend.localRoot?.() ?? repo.cache?.dir;
  const s = parent?.summary;
  const dirs = s ? s.dirs_new + s.dirs_changed + s.dirs_unmodified : Infinity;
  if (!parent || root === undefined || dirs < PREFETCH_MIN_DIRS) {
    void discardTreePrefetch();
    return new ParentTrees(repo);
  }
  return new TreePrefetch(repo, parent.tree, root);
}

/**
 * Call before opening the repository for a backup of `paths`, to use the time the key takes
 * to derive: the thread that reads a parent snapshot's trees ahead starts (unused without a
 * parent, or with a small one, it is stopped when the backup starts), and so does the one
 * that lists the paths' directories ahead of the walk (list-ahead.ts; a `force` backup,
 * which reads every file, gains little from either and may skip this). `cancel` stops both
 * when no backup follows (the repository could not be opened).
 */
export function prepareBackup(paths: readonly string[] = []): { cancel(): Promise<void> } {
  prestartTreePrefetch();
  startListAhead(paths.map((p) => Buffer.from(resolvePath(p))));
  return {
    cancel: () => {
      stopListAhead();
      return discardTreePrefetch();
    },
  };
}

/** A given file that is a live SQLite database read as a plain file gets the SQLITE_WAL warning. */
async function warnLiveSqliteRoots(roots: Root[], substitutes: ReadonlyMap<string, string> | undefined, warn: (w: Warning) => void): Promise<void> {
  for (const r of roots) {
    if (!r.stat.isFile() || substitutes?.has(r.path)) continue;
    const slash = r.path.lastIndexOf("/");
    const name = r.path.slice(slash + 1);
    const wal = await lstat(`${r.path}-wal`).then(() => true, () => false);
    if (wal && (await isLiveSqlite(r.path, new Set([`${name}-wal`]), name))) warn(sqliteWalWarning(r.path));
  }
}

function buildRootTrie(roots: Root[]): Trie {
  const top: Trie = { children: new Map() };
  for (const r of roots) {
    let t = top;
    for (const c of r.path.split("/").filter(Boolean)) {
      let n = t.children.get(c);
      if (!n) t.children.set(c, (n = { children: new Map() }));
      t = n;
    }
    t.root = r;
  }
  return top;
}

/** The snapshot's `filters` field, when the backup filtered anything. */
function withFilters(resolved: FilterOptions, excludeFiles: string[] | undefined): { filters?: SnapshotFilters } {
  const f = recordFilters(resolved, excludeFiles);
  return f ? { filters: f } : {};
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}
