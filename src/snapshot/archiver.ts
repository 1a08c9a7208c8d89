import type { BigIntStats } from "node:fs";
import { lstat, readlink } from "node:fs/promises";
import { hostname as osHostname, userInfo } from "node:os";
import { resolve as resolvePath } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import { PROGRAM } from "../core/version.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import { ArchivePool } from "./archive-pool.js";
import type { FilterOptions } from "./filters.js";
import { NameLookup } from "./names.js";
import { nodeFromStat } from "./node-from-stat.js";
import { recordFilters, resolveExcludeFiles } from "./recorded-filters.js";
import { type DirScope, Scanner } from "./scanner.js";
import { isLiveSqlite, SQLITE_COMPANIONS, sqliteWalWarning } from "./sqlite-wal.js";
import { syncScanFs } from "./sync-scan-fs.js";
import type { RetentionOverride, Snapshot, SnapshotFilters, SnapshotKind, SnapshotSummary, SnapshotWithId, ChangeInfo } from "./snapshot.js";
import { listSnapshots, saveSnapshot } from "./snapshot-store.js";
import { decodeTree, encodeName, encodeTree, nameBytes, type Tree, type TreeNode } from "./tree.js";

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
  const roots = await resolveRoots(opts.paths, opts.substitutes);
  const host = opts.host ?? osHostname();
  const lock = opts.dryRun ? undefined : await Lock.acquire(repo, { exclusive: false, onWarning: warn });
  try {
    if (repo.index.files.size === 0) await repo.loadIndex();
    const parent = await findParent(repo, opts, host, roots.map((r) => r.path));
    const filters = await resolveExcludeFiles(opts.filters ?? {});
    const scanner = await Scanner.create(filters, warn, syncScanFs);
    const saver = new PackSaver(repo);
    const pool = opts.dryRun ? undefined : new ArchivePool(repo, saver, opts.workers, opts.signal);
    const ctx = new ArchiveContext(repo, scanner, saver, pool, new NameLookup(), warn, opts.progress ?? silentProgress, opts.signal, opts.substitutes);
    await warnLiveSqliteRoots(roots, opts.substitutes, warn);
    // The parent's totals are a free estimate for the progress display's ETA.
    if (parent?.summary) ctx.estimate = { files: parent.summary.files_total, bytes: parent.summary.bytes_total };
    try {
      const trie = buildRootTrie(roots);
      let treeId: string;
      if (trie.root) {
        // Backing up "/" itself: the snapshot's root tree is that directory's listing.
        const r = trie.root;
        const fakeParent = parent ? new Map<string, TreeNode>([["", { name: "", type: "dir", subtree: parent.tree } as TreeNode]]) : undefined;
        const node = await (await ctx.entry(Buffer.alloc(0), r.bytes, r.stat, fakeParent, scanner.rootScope(r.bytes, r.stat))).value;
        if (!node?.subtree) throw new CofferError("IO", "The root directory could not be read; nothing was backed up.");
        treeId = node.subtree;
      } else {
        const parentTree = parent ? await ctx.loadTree(parent.tree) : undefined;
        treeId = await (await ctx.virtualDir(trie, parentTree)).value;
      }
      const interrupted = (): void => {
        if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The backup was interrupted; no snapshot was saved.");
      };
      interrupted();
      if (pool) await pool.flush();
      if (!opts.dryRun) await saver.flush();
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
      await pool?.close();
    }
  } finally {
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
  roots.sort((a, b) => a.path.localeCompare(b.path));
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

/** The given paths as a trie of path components; `root` marks a path given to back up. */
interface Trie {
  children: Map<string, Trie>;
  root?: Root;
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

const emptyCounts = () => ({
  files_new: 0,
  files_changed: 0,
  files_unmodified: 0,
  dirs_new: 0,
  dirs_changed: 0,
  dirs_unmodified: 0,
  files_failed: 0,
  bytes_read: 0,
  bytes_total: 0,
  files_total: 0,
});

class ArchiveContext {
  counts = emptyCounts();
  #hardlinks = new Map<string, Promise<{ ids: string[]; size: number } | undefined>>();
  #bytesDone = 0;
  /** Nodes identical to their counterpart in the parent snapshot. */
  #same = new WeakSet<TreeNode>();
  estimate: { files: number; bytes: number } | undefined;

  constructor(
    readonly repo: Repository,
    readonly scanner: Scanner,
    readonly saver: PackSaver,
    readonly pool: ArchivePool | undefined,
    readonly names: NameLookup,
    readonly warn: (w: Warning) => void,
    readonly progress: Progress,
    readonly signal: AbortSignal | undefined,
    readonly substitutes?: ReadonlyMap<string, string>,
  ) {
    for (const path of substitutes?.keys() ?? []) for (const suffix of SQLITE_COMPANIONS) this.#companions.add(`${path}${suffix}`);
  }

  /** Files beside a substituted database that its copy replaces. */
  #companions = new Set<string>();

  async loadTree(id: string): Promise<Map<string, TreeNode>> {
    const t = decodeTree(await this.repo.loadBlob("tree", Buffer.from(id, "hex")));
    return new Map(t.nodes.map((n) => [nameKey(n), n]));
  }

  async #parentSub(parent: Map<string, TreeNode> | undefined, name: string): Promise<Map<string, TreeNode> | undefined> {
    const n = parent?.get(name);
    if (!n || n.type !== "dir" || !n.subtree) return undefined;
    try {
      return await this.loadTree(n.subtree);
    } catch {
      return undefined; // a damaged parent only costs re-reading
    }
  }

  async #saveTree(nodes: TreeNode[]): Promise<string> {
    // atime is not stored: reading a directory changes it, and unchanged trees must dedupe.
    for (const n of nodes) delete n.atime;
    const t: Tree = { nodes };
    const id = this.pool ? await this.saver.addBlob("tree", encodeTree(t)) : this.repo.blobId(encodeTree(t));
    return id.toString("hex");
  }

  /** Intermediate directories of the given paths: only the given children, metadata from disk. */
  async virtualDir(trie: Trie, parent: Map<string, TreeNode> | undefined, prefix = ""): Promise<Later<string>> {
    const pending: Promise<TreeNode | undefined>[] = [];
    const names = [...trie.children.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const child = trie.children.get(name) as Trie;
      const path = `${prefix}/${name}`;
      const key = Buffer.from(name, "utf8").toString("latin1");
      if (child.root) {
        pending.push((await this.entry(Buffer.from(name), child.root.bytes, child.root.stat, parent, this.scanner.rootScope(child.root.bytes, child.root.stat))).value);
      } else {
        const st = await lstat(path, { bigint: true });
        const node = nodeFromStat(Buffer.from(name), st, this.names);
        const sub = await this.virtualDir(child, await this.#parentSub(parent, key), path);
        pending.push(sub.value.then((subtree) => ({ ...node, subtree })));
      }
    }
    return later(Promise.all(pending).then((nodes) => this.#saveTree(nodes.filter((n): n is TreeNode => n !== undefined))));
  }

  /** Walks one entry; resolves (outer) once it is scheduled, (inner) with its finished node. */
  async entry(name: Buffer, path: Buffer, stat: BigIntStats, parent: Map<string, TreeNode> | undefined, scope: DirScope): Promise<Later<TreeNode | undefined>> {
    if (this.signal?.aborted) throw new CofferError("INTERRUPTED", "The backup was interrupted; nothing was saved as a snapshot.");
    const key = nameKey(encodeName(name));
    const old = parent?.get(key);
    if (stat.isDirectory()) {
      const node = nodeFromStat(name, stat, this.names);
      // Depth first, one directory at a time: scanning is synchronous (fast), and walking
      // directories concurrently held the whole tree's listings in memory at once. Files are
      // handed to the pool as they come (bounded by `admit`); a directory's tree is saved
      // once all its entries are done.
      let listing;
      let parentSub;
      try {
        listing = await this.scanner.readDir(path, scope);
        parentSub = old?.type === "dir" && old.subtree ? await this.#parentSub(parent, key) : undefined;
      } catch (err) {
        this.warn({ code: "UNREADABLE", message: `cannot read directory ${path.toString()}: ${(err as Error).message}`, path: path.toString() });
        this.counts.files_failed++;
        return later(Promise.resolve(undefined));
      }
      const children: Promise<TreeNode | undefined>[] = [];
      const names = new Set(listing.entries.map((e) => e.name.toString()));
      for (const e of listing.entries) {
        const at = e.path.toString();
        if (this.#companions.has(at)) continue;
        const from = this.substitutes?.get(at);
        if (from !== undefined) {
          const st = await lstat(from, { bigint: true }).catch((err: unknown) => {
            throw ioError(err, `reading ${from}, the copy of ${at}`);
          });
          children.push((await this.entry(e.name, Buffer.from(from), st, parentSub, listing.scope)).value);
          continue;
        }
        if (e.stat.isFile() && names.has(`${e.name.toString()}-wal`) && (await isLiveSqlite(at, names, e.name.toString()))) this.warn(sqliteWalWarning(at));
        children.push((await this.entry(e.name, e.path, e.stat, parentSub, listing.scope)).value);
      }
      return later(this.#finishDir(node, old, children, parentSub?.size));
    }
    if (stat.isSymbolicLink()) {
      let target: Buffer;
      try {
        target = await readlink(path, { encoding: "buffer" });
      } catch (err) {
        this.warn({ code: "UNREADABLE", message: `cannot read symlink ${path.toString()}: ${(err as Error).message}`, path: path.toString() });
        return later(Promise.resolve(undefined));
      }
      return later(Promise.resolve(this.#markSame(nodeFromStat(name, stat, this.names, target), old)));
    }
    const node = nodeFromStat(name, stat, this.names);
    if (!stat.isFile()) return later(Promise.resolve(this.#markSame(node, old)));
    this.counts.files_total++;
    this.counts.bytes_total += Number(stat.size);
    if (old && unchanged(old, node) && (old.content ?? []).every((id) => this.repo.index.has(Buffer.from(id, "hex")))) {
      this.counts.files_unmodified++;
      this.#advance(Number(stat.size), path);
      return later(Promise.resolve(this.#markSame({ ...node, content: old.content ?? [] }, old)));
    }
    const linkKey = stat.nlink > 1n ? `${stat.dev}:${stat.ino}` : undefined;
    const seen = linkKey ? this.#hardlinks.get(linkKey) : undefined;
    if (!seen && this.pool) await this.pool.admit();
    const content = seen ?? this.#read(path, stat);
    if (linkKey && !seen) this.#hardlinks.set(linkKey, content);
    return later(content.then((read) => {
      if (read === undefined) return undefined;
      if (!seen) {
        if (old) this.counts.files_changed++;
        else this.counts.files_new++;
      }
      // The size is what was read (a file that grew while read), so content and size agree.
      return { ...node, size: read.size, content: read.ids };
    }));
  }

  /** Remembers that a node is identical to the parent snapshot's (see #finishDir). */
  #markSame(node: TreeNode, old: TreeNode | undefined): TreeNode {
    if (old && sameNode(node, old)) this.#same.add(node);
    return node;
  }

  async #finishDir(node: TreeNode, old: TreeNode | undefined, children: Promise<TreeNode | undefined>[], oldCount: number | undefined): Promise<TreeNode> {
    const nodes = await Promise.all(children);
    // Every entry as it was, and as many: the directory's tree is the parent's, byte for
    // byte, so it is reused without encoding, hashing or looking it up again.
    if (old?.subtree && oldCount === nodes.length && nodes.every((n) => n !== undefined && this.#same.has(n))) {
      this.counts.dirs_unmodified++;
      return this.#markSame({ ...node, subtree: old.subtree }, old);
    }
    const subtree = await this.#saveTree(nodes.filter((n): n is TreeNode => n !== undefined));
    if (!old) this.counts.dirs_new++;
    else if (old.subtree === subtree) this.counts.dirs_unmodified++;
    else this.counts.dirs_changed++;
    return { ...node, subtree };
  }

  async #read(path: Buffer, stat: BigIntStats): Promise<{ ids: string[]; size: number } | undefined> {
    if (!this.pool) {
      this.counts.bytes_read += Number(stat.size);
      return { ids: [], size: Number(stat.size) };
    }
    for (let attempt = 0; ; attempt++) {
      const o = await this.pool.read(path, Number(stat.size));
      if (o.error) {
        this.warn({ code: "UNREADABLE", message: `cannot read ${path.toString()}: ${o.error.message}`, path: path.toString() });
        this.counts.files_failed++;
        this.counts.files_total--;
        this.counts.bytes_total -= Number(stat.size);
        return undefined;
      }
      this.counts.bytes_read += o.bytesRead;
      if (o.changed && attempt === 0) continue; // read it once more
      if (o.changed) this.warn({ code: "CHANGED", message: `${path.toString()} changed while it was read; the snapshot holds the content as read`, path: path.toString() });
      this.#advance(o.bytesRead, path);
      const ids = Buffer.from(o.ids.buffer, o.ids.byteOffset, o.ids.byteLength);
      const out: string[] = [];
      for (let i = 0; i < ids.length; i += 32) out.push(ids.toString("hex", i, i + 32));
      return { ids: out, size: o.bytesRead };
    }
  }

  #advance(bytes: number, path: Buffer): void {
    this.#bytesDone += bytes;
    const filesDone = this.counts.files_new + this.counts.files_changed + this.counts.files_unmodified;
    const est = this.estimate;
    this.progress.update({
      phase: "backup",
      filesDone,
      bytesDone: this.#bytesDone,
      ...(est ? { filesTotal: Math.max(est.files, filesDone), bytesTotal: Math.max(est.bytes, this.#bytesDone) } : {}),
      current: path.toString(),
    });
  }
}

/**
 * A value that is computed later. Walking returns one per entry as soon as the entry is
 * scheduled, so the walk runs ahead of the workers (bounded by their queue) instead of
 * waiting for each file. Wrapped in an object because promises of promises flatten.
 */
interface Later<T> {
  value: Promise<T>;
}

function later<T>(value: Promise<T>): Later<T> {
  // Rejections are observed by whoever awaits the tree; mark handled to avoid an early crash.
  value.catch(() => undefined);
  return { value };
}

/** The key a node is looked up by in its parent directory: its raw name bytes. */
function nameKey(n: { name: string; name_raw?: string }): string {
  return nameBytes(n).toString("latin1");
}

/**
 * Whether a new node would encode as the parent's did (every field coffer writes is equal).
 * Written out field by field: a loop over field names made this one of the hottest functions
 * of an unchanged backup. Fields only an old (or newer) build wrote are kept by reusing it.
 */
function sameNode(a: TreeNode, b: TreeNode): boolean {
  if (
    a.name !== b.name ||
    a.type !== b.type ||
    a.mode !== b.mode ||
    a.mtime !== b.mtime ||
    a.ctime !== b.ctime ||
    a.size !== b.size ||
    a.inode !== b.inode ||
    a.device !== b.device ||
    a.links !== b.links ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.user !== b.user ||
    a.group !== b.group ||
    a.subtree !== b.subtree ||
    a.name_raw !== b.name_raw ||
    a.linktarget !== b.linktarget ||
    a.linktarget_raw !== b.linktarget_raw ||
    a.rdev !== b.rdev ||
    a.xattrs !== undefined ||
    b.xattrs !== undefined
  ) {
    return false;
  }
  const ca = a.content;
  const cb = b.content;
  if (ca === cb) return true;
  if (!ca || !cb || ca.length !== cb.length) return false;
  for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return false;
  return true;
}

function unchanged(old: TreeNode, now: TreeNode): boolean {
  return old.type === "file" && old.size === now.size && old.mtime === now.mtime && old.ctime === now.ctime && old.inode === now.inode && old.mode === now.mode && old.content !== undefined;
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
