import { readlinkSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { ioError } from "../core/errors.js";
import { collectGarbageIfGrown } from "../core/gc.js";
import type { Progress } from "../core/progress.js";
import type { Warning } from "../core/warning.js";
import { stopError } from "../repository/lock.js";
import type { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import type { ArchivePool } from "./archive-pool.js";
import type { FileOutcome } from "./archive-protocol.js";
import type { NameLookup } from "./names.js";
import { type EntryStat, statDecimal, statNumber } from "./entry-stat.js";
import { CHANGED, compareStat, SAME } from "./node-compare.js";
import { nodeFromStat } from "./node-from-stat.js";
import { type Child, DirFrame, newFrame } from "./dir-frame.js";
import { completeNode, FileRead, type ReadHandlers, type ReadResult } from "./file-read.js";
import { nameKeyOf, type OldDir } from "./old-dir.js";
import type { ParentTrees } from "./parent-trees.js";
import type { DirScope, Listing, ScanEntry, Scanner } from "./scanner.js";
import { isLiveSqlite, SQLITE_COMPANIONS, sqliteWalWarning } from "./sqlite-wal.js";
import { Gather } from "./gather.js";
import { encodeName, encodeTree, type TreeNode } from "./tree.js";

/** A value now, or later. */
type Maybe<T> = T | Promise<T>;

/**
 * What walking an entry returns once the entry is scheduled: its finished node, now (nothing
 * to read, or a whole unchanged directory) or later. The walk runs ahead of the workers
 * (bounded by their queue) instead of waiting for each file. Wrapped in an object because
 * promises of promises flatten.
 */
export interface Later<T> {
  value: Maybe<T>;
}

/** The walk yields to the event loop this often (ms): lock refreshes, signals, worker messages. */
const YIELD_MS = 20;

/** The main heap may grow by this much (bytes) before the walk has it collected. */
const HEAP_SLACK = 24 * 1024 * 1024;
/** Progress is reported at most this often (ms). */
const PROGRESS_MS = 25;

/**
 * One backup's walk of the file system: depth first, one directory at a time, entries in
 * byte order of their names. Each directory is compared with the parent snapshot's as it is
 * read; files to read go to the worker pool; a directory's tree is saved once its entries
 * are done.
 */
export class ArchiveWalk {
  counts = {
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
  };
  estimate: { files: number; bytes: number } | undefined;
  #hardlinks = new Map<string, Promise<{ ids: string[]; size: number } | undefined>>();
  #bytesDone = 0;
  #progressAt = 0;
  #yieldAt = 0;
  /** Files beside a substituted database that its copy replaces. */
  #companions = new Set<string>();
  #idScratch = Buffer.alloc(32);

  constructor(
    readonly repo: Repository,
    readonly scanner: Scanner,
    readonly saver: PackSaver,
    readonly pool: ArchivePool | undefined,
    readonly trees: ParentTrees,
    readonly names: NameLookup,
    readonly warn: (w: Warning) => void,
    readonly progress: Progress,
    readonly signal: AbortSignal | undefined,
    readonly substitutes?: ReadonlyMap<string, string>,
  ) {
    for (const path of substitutes?.keys() ?? []) for (const suffix of SQLITE_COMPANIONS) this.#companions.add(`${path}${suffix}`);
  }

  /**
   * The walk's state for files in flight lives long enough to be promoted, so the main heap
   * fills with dead objects that V8 collects late, growing the heap to several times what
   * is alive (the largest part of a backup's peak memory). Collect once it has grown by
   * HEAP_SLACK since the last collection.
   */
  #trimHeap(): void {
    collectGarbageIfGrown(HEAP_SLACK);
  }

  async #parentSub(old: TreeNode | undefined): Promise<OldDir | undefined> {
    if (old?.type !== "dir" || !old.subtree) return undefined;
    return this.trees.get(old.subtree);
  }

  async #saveTree(nodes: TreeNode[]): Promise<string> {
    const bytes = treeBytes(nodes);
    const id = this.pool ? await this.saver.addBlob("tree", bytes) : this.repo.blobId(bytes);
    return id.toString("hex");
  }

  /** Intermediate directories of the given paths: only the given children, metadata from disk. */
  async virtualDir(trie: Trie, parent: OldDir | undefined, prefix = ""): Promise<Later<string>> {
    const pending: Maybe<TreeNode | undefined>[] = [];
    const names = [...trie.children.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const child = trie.children.get(name) as Trie;
      const path = `${prefix}/${name}`;
      const bytes = Buffer.from(name);
      const old = parent?.find(nameKeyOf(bytes));
      if (child.root) {
        pending.push((await this.entry(bytes, child.root.bytes, child.root.stat, old, this.scanner.rootScope(child.root.bytes, child.root.stat))).value);
      } else {
        const st = await lstat(path, { bigint: true });
        const node = nodeFromStat(bytes, st, this.names);
        const sub = await this.#parentSub(old).catch(() => undefined);
        const l = await this.virtualDir(child, sub, path);
        pending.push(Promise.resolve(l.value).then((subtree) => ({ ...node, subtree })));
      }
    }
    const value = Promise.all(pending).then((nodes) => this.#saveTree(nodes.filter((n): n is TreeNode => n !== undefined)));
    value.catch(() => undefined);
    return { value };
  }

  /**
   * Walks any entry (a path given to back up, a substitute's file); resolves (outer) once it
   * is scheduled, with its finished node now or later (inner).
   */
  async entry(name: Buffer, path: Buffer, stat: EntryStat, old: TreeNode | undefined, scope: DirScope): Promise<Later<TreeNode | undefined>> {
    this.#interrupted();
    const child: Child = { name, stat, old };
    if (stat.isDirectory()) {
      const l = await this.#dir(name, path, stat, old, scope);
      const v = l.value;
      if (!(v instanceof Promise)) return { value: this.#resolveSame(v, child) };
      const value = v.then((n) => this.#resolveSame(n, child));
      value.catch(() => undefined);
      return { value };
    }
    const v = this.#leaf(path, child);
    if (v !== READ) return { value: this.#resolveSame(v, child) };
    return this.#scheduleRead(path, child);
  }

  /** An entry identical to the parent's is returned as the parent's node; a root needs its own. */
  #resolveSame(v: TreeNode | undefined, c: Child): TreeNode | undefined {
    return v !== undefined && v === c.old ? this.#fresh(v, c) : v;
  }

  #interrupted(): void {
    if (this.signal?.aborted) throw stopError(this.signal, "The backup was interrupted; nothing was saved as a snapshot.");
  }

  /**
   * Walks a directory and everything below it: depth first, one directory at a time, with
   * an explicit stack of the directories open (one async call for the whole walk instead of
   * one per directory, whose promise, state and awaits were most of what the walk allocated
   * per directory). It awaits only what needs waiting for.
   */
  async #dir(name: Buffer, path: Buffer, stat: EntryStat, old: TreeNode | undefined, scope: DirScope): Promise<Later<TreeNode | undefined>> {
    const first = this.#open(name, path, stat, old, scope);
    const root = first instanceof Promise ? await first : first;
    if (root === undefined) return { value: undefined };
    // Every directory's node goes to its place in its parent's Gather; the root's to this one.
    const top = new Gather<TreeNode | undefined>();
    root.to = top;
    root.slot = top.later(undefined);
    const stack: DirFrame[] = [root];
    const special = this.#companions.size > 0 || (this.substitutes?.size ?? 0) > 0;
    for (;;) {
      const f = stack[stack.length - 1] as DirFrame;
      const entries = f.listing.entries;
      if (f.next === entries.length) {
        stack.pop();
        const nodes = f.results.closeTo(f);
        if (nodes !== undefined) this.#dirGathered(f, nodes);
        if (stack.length > 0) continue;
        const done = top.close();
        if (!(done instanceof Promise)) return { value: done[0] };
        const value = done.then((n) => n[0]);
        value.catch(ignore); // observed by whoever awaits the tree; avoid an early crash
        return { value };
      }
      const e = entries[f.next++] as ScanEntry;
      let entryPath = e.path;
      let stat = e.stat;
      if (special) {
        const at = e.path.toString();
        if (this.#companions.has(at)) continue;
        const from = this.substitutes?.get(at);
        if (from !== undefined) {
          stat = await lstat(from, { bigint: true }).catch((err: unknown) => {
            throw ioError(err, `reading ${from}, the copy of ${at}`);
          });
          entryPath = Buffer.from(from);
        }
      }
      const child: Child = { name: e.name, stat, old: f.parentSub?.find(nameKeyOf(e.name)) };
      f.children.push(child);
      if (stat.isDirectory()) {
        const o = this.#open(e.name, entryPath, stat, child.old, f.listing.scope);
        const sub = o instanceof Promise ? await o : o;
        if (sub === undefined) {
          f.results.push(undefined);
        } else {
          sub.to = f.results;
          sub.slot = f.results.later(undefined);
          stack.push(sub);
        }
        continue;
      }
      if (f.siblings && entryPath === e.path && stat.isFile() && f.siblings.has(`${e.name.toString()}-wal`)) {
        const at = e.path.toString();
        if (await isLiveSqlite(at, f.siblings, e.name.toString())) this.warn(sqliteWalWarning(at));
      }
      this.#interrupted();
      const v = this.#leaf(entryPath, child);
      if (v === READ) {
        const wait = this.#admission(stat);
        if (wait !== undefined) await wait;
        this.#readFile(entryPath, child, f.results);
      } else {
        f.results.push(v);
      }
    }
  }

  /**
   * Reads a directory to walk it; undefined when it cannot be read (with a warning). A
   * promise only when something must be waited for.
   */
  #open(name: Buffer, path: Buffer, stat: EntryStat, old: TreeNode | undefined, scope: DirScope): Maybe<DirFrame | undefined> {
    this.#interrupted();
    if (performance.now() >= this.#yieldAt) return this.#openAfterYield(name, path, stat, old, scope);
    let listing: Maybe<Listing>;
    let sub: Maybe<OldDir | undefined>;
    try {
      listing = this.scanner.readDirNow(path, scope);
      if (listing instanceof Promise) return this.#openLater(name, path, stat, old, listing);
      sub = old?.type === "dir" && old.subtree ? this.trees.get(old.subtree) : undefined;
    } catch (err) {
      return this.#unreadable(path, err);
    }
    if (sub instanceof Promise) return this.#openLater(name, path, stat, old, listing, sub);
    return newFrame(this.#onDir, name, stat, old, listing, sub);
  }

  async #openAfterYield(name: Buffer, path: Buffer, stat: EntryStat, old: TreeNode | undefined, scope: DirScope): Promise<DirFrame | undefined> {
    // The walk runs in microtasks and synchronous calls; let timers, signals and worker
    // messages in now and then.
    await new Promise<void>((r) => setImmediate(r));
    this.#yieldAt = performance.now() + YIELD_MS;
    this.#trimHeap();
    return this.#open(name, path, stat, old, scope);
  }

  async #openLater(name: Buffer, path: Buffer, stat: EntryStat, old: TreeNode | undefined, listing: Maybe<Listing>, sub?: Promise<OldDir | undefined>): Promise<DirFrame | undefined> {
    try {
      const l = await listing;
      const s = sub ?? (old?.type === "dir" && old.subtree ? this.trees.get(old.subtree) : undefined);
      return newFrame(this.#onDir, name, stat, old, l, await s);
    } catch (err) {
      return this.#unreadable(path, err);
    }
  }

  #unreadable(path: Buffer, err: unknown): undefined {
    this.warn({ code: "UNREADABLE", message: `cannot read directory ${path.toString()}: ${(err as Error).message}`, path: path.toString() });
    this.counts.files_failed++;
    return undefined;
  }

  /**
   * A file, symlink or special file that needs no reading: its node, the parent's node when
   * identical, or undefined (unreadable symlink). READ: the file's content must be read.
   */
  #leaf(path: Buffer, c: Child): TreeNode | undefined | typeof READ {
    const { stat, old } = c;
    if (stat.isSymbolicLink()) {
      try {
        c.target = readlinkSync(path, { encoding: "buffer" });
      } catch (err) {
        this.warn({ code: "UNREADABLE", message: `cannot read symlink ${path.toString()}: ${(err as Error).message}`, path: path.toString() });
        return undefined;
      }
    }
    const isFile = stat.isFile();
    if (isFile) {
      this.counts.files_total++;
      this.counts.bytes_total += statNumber(stat, "size");
    }
    const match = old ? this.#compare(c) : CHANGED;
    if (isFile) {
      if (match === CHANGED || !this.#blobsPresent(old?.content ?? [])) return READ;
      this.counts.files_unmodified++;
      this.#advance(statNumber(stat, "size"), path);
    }
    if (match === SAME) return old;
    const node = nodeFromStat(c.name, stat, this.names, c.target);
    if (isFile) node.content = old?.content ?? [];
    return node;
  }

  #compare(c: Child): number {
    const old = c.old as TreeNode;
    // Found by name key: a node stored without name_raw has exactly this name (old-dir.ts).
    const enc = old.name_raw === undefined ? old : encodeName(c.name);
    return compareStat(c.stat, old, enc.name, enc.name_raw, this.names, c.target);
  }

  #blobsPresent(ids: readonly string[]): boolean {
    for (const id of ids) {
      if (this.#idScratch.write(id, "hex") !== 32 || !this.repo.index.has(this.#idScratch)) return false;
    }
    return true;
  }

  async #scheduleRead(path: Buffer, c: Child): Promise<Later<TreeNode | undefined>> {
    const wait = this.#admission(c.stat);
    if (wait !== undefined) await wait;
    const g = new Gather<TreeNode | undefined>();
    this.#readFile(path, c, g);
    const value = Promise.resolve(g.close()).then((nodes) => nodes[0]);
    value.catch(ignore);
    return { value };
  }

  /** What to wait for before `#readFile` (the pool's room), when anything. */
  #admission(stat: EntryStat): Promise<void> | undefined {
    const key = hardLinkKey(stat);
    if (!this.pool || (key !== undefined && this.#hardlinks.has(key))) return undefined;
    return this.pool.admit();
  }

  /**
   * Hands a file to the pool (a hard link already handed over is not read again); its node,
   * once read, goes to the next place of `g` (undefined: it could not be read).
   */
  #readFile(path: Buffer, c: Child, g: Gather<TreeNode | undefined>): void {
    const { stat, old } = c;
    const node = nodeFromStat(c.name, stat, this.names);
    const linkKey = hardLinkKey(stat);
    if (linkKey === undefined && this.pool) {
      this.pool.readInto(path, statNumber(stat, "size"), new FileRead(this.#onRead, path, statNumber(stat, "size"), node, old !== undefined, g, g.later(undefined)));
      return;
    }
    const seen = linkKey !== undefined ? this.#hardlinks.get(linkKey) : undefined;
    const content = seen ?? this.#read(path, stat);
    if (linkKey !== undefined && !seen) this.#hardlinks.set(linkKey, content);
    const i = g.later(undefined);
    content.then((read) => {
      if (read === undefined) return g.set(i, undefined);
      if (!seen) this.#counted(old !== undefined);
      completeNode(node, read);
      g.set(i, node);
    }, g.onError);
  }

  #counted(changed: boolean): void {
    if (changed) this.counts.files_changed++;
    else this.counts.files_new++;
  }

  /** A file's read as a promise (hard links share it), or without the pool. */
  #read(path: Buffer, stat: EntryStat): Promise<ReadResult | undefined> {
    const size = statNumber(stat, "size");
    if (!this.pool) {
      this.counts.bytes_read += size;
      return Promise.resolve({ ids: [], size });
    }
    const pool = this.pool;
    return new Promise((resolve, reject) => pool.readInto(path, size, new FileRead(this.#onRead, path, size, undefined, false, { resolve, reject }, 0)));
  }

  /** What a DirFrame's Gather tells it goes here: one object for the walk. */
  readonly #onDir: DirFrame["h"] = { gathered: (f, nodes) => this.#dirGathered(f, nodes) };

  /** What the pool tells a FileRead goes here: one object for the walk, no closure per file. */
  readonly #onRead: ReadHandlers = {
    done: (f, o) => this.#readDone(f, o),
    failed: (f, err) => (f.to instanceof Gather ? f.to.fail(err) : f.to.reject(err)),
  };

  #readDone(f: FileRead, o: FileOutcome): void {
    const { path, size } = f;
    let read: ReadResult | undefined;
    if (o.error) {
      this.warn({ code: "UNREADABLE", message: `cannot read ${path.toString()}: ${o.error.message}`, path: path.toString() });
      this.counts.files_failed++;
      this.counts.files_total--;
      this.counts.bytes_total -= size;
    } else {
      this.counts.bytes_read += o.bytesRead;
      if (o.changed && f.attempt === 0) {
        f.attempt++; // read it once more
        (this.pool as ArchivePool).readInto(path, size, f);
        return;
      }
      if (o.changed) this.warn({ code: "CHANGED", message: `${path.toString()} changed while it was read; the snapshot holds the content as read`, path: path.toString() });
      this.#advance(o.bytesRead, path);
      const ids = Buffer.isBuffer(o.ids) ? o.ids : Buffer.from(o.ids.buffer, o.ids.byteOffset, o.ids.byteLength);
      const out: string[] = [];
      for (let i = 0; i < ids.length; i += 32) out.push(ids.toString("hex", i, i + 32));
      read = { ids: out, size: o.bytesRead };
    }
    const to = f.to;
    if (!(to instanceof Gather)) return to.resolve(read);
    if (read === undefined || f.node === undefined) return to.set(f.i, undefined);
    this.#counted(f.changed);
    completeNode(f.node, read);
    to.set(f.i, f.node);
  }

  /** A node built afresh for an entry identical to the parent's (its directory changed). */
  #fresh(n: TreeNode, c: Child | undefined): TreeNode {
    if (c === undefined || n !== c.old) return n;
    const node = nodeFromStat(c.name, c.stat, this.names, c.target);
    if (n.type === "file") return { ...node, content: n.content ?? [] };
    if (n.type === "dir") return { ...node, subtree: n.subtree as string };
    return node;
  }

  /**
   * A walked directory whose entries all have their nodes: its node goes to its place, at
   * once when its tree is the parent's, else once its tree is saved.
   */
  #dirGathered(f: DirFrame, nodes: (TreeNode | undefined)[]): void {
    const { old, parentSub, children } = f;
    // Every entry as it was, and as many: the directory's tree is the parent's, byte for
    // byte, so it is reused without encoding, hashing or looking it up again.
    if (old?.subtree && parentSub?.size === nodes.length && nodes.every((n, i) => n !== undefined && n === children[i]?.old)) {
      this.counts.dirs_unmodified++;
      return f.to.set(f.slot, this.#sameDir(f.name, f.stat, old, old.subtree));
    }
    const fresh: TreeNode[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (n !== undefined) fresh.push(this.#fresh(n, children[i]));
    }
    const bytes = treeBytes(fresh);
    if (!this.pool) return this.#dirSaved(f, this.repo.blobId(bytes));
    this.saver.addBlob("tree", bytes).then(
      (id) => {
        try {
          this.#dirSaved(f, id);
        } catch (err) {
          f.to.fail(err);
        }
      },
      (err: unknown) => f.to.fail(err),
    );
  }

  #dirSaved(f: DirFrame, id: Buffer): void {
    const subtree = id.toString("hex");
    const old = f.old;
    if (!old) this.counts.dirs_new++;
    else if (old.subtree === subtree) this.counts.dirs_unmodified++;
    else this.counts.dirs_changed++;
    f.to.set(f.slot, this.#sameDir(f.name, f.stat, old, subtree));
  }

  /** A directory's node: the parent's when it would encode the same. */
  #sameDir(name: Buffer, stat: EntryStat, old: TreeNode | undefined, subtree: string): TreeNode {
    if (old && old.subtree === subtree) {
      const enc = encodeName(name);
      if (compareStat(stat, old, enc.name, enc.name_raw, this.names) === SAME) return old;
    }
    const node = nodeFromStat(name, stat, this.names);
    node.subtree = subtree; // last, as a copy with it would have it
    return node;
  }

  #advance(bytes: number, path: Buffer): void {
    this.#bytesDone += bytes;
    const now = performance.now();
    if (now < this.#progressAt) return;
    this.#progressAt = now + PROGRESS_MS;
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

const READ = Symbol("read");

/** A tree's bytes; atime is not stored (reading a directory changes it, and unchanged trees must dedupe). */
function treeBytes(nodes: TreeNode[]): Buffer {
  for (const n of nodes) if (n.atime !== undefined) delete n.atime;
  return encodeTree({ nodes });
}

/** Marks a promise's rejection as seen (whoever awaits the promise still gets it). */
function ignore(): void {}

/** The key of a file with several links: its device and inode. */
function hardLinkKey(stat: EntryStat): string | undefined {
  return statNumber(stat, "nlink") > 1 ? `${statDecimal(stat, "dev")}:${statDecimal(stat, "ino")}` : undefined;
}

/** The given paths as a trie of path components; `root` marks a path given to back up. */
export interface Trie {
  children: Map<string, Trie>;
  root?: { path: string; bytes: Buffer; stat: EntryStat };
}
