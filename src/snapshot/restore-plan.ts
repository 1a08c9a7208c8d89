import { CofferError, type ErrorCode } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import { decodeBlob } from "../repository/blob.js";
import type { IndexedBlob } from "../repository/master-index.js";
import type { Repository } from "../repository/repository.js";
import type { FilterDecision, RestoreFilter } from "./restore-filter.js";
import { joinPath, unsafeNameReason } from "./safe-path.js";
import { decodeTree, nameBytes, type TreeNode } from "./tree.js";

/**
 * What a restore will write, from the snapshot alone (the target is not looked at): the
 * directories in pre-order (parents before children) and the other entries in walk order.
 * Unsafe names are refused here, so nothing downstream ever sees one. With `onEntries`, the
 * entries are handed over in batches as the walk finds them and not kept, so a restore holds
 * the directories and a batch or two of files, never every file of the snapshot.
 */
export interface PlanDir {
  /**
   * Its name, latin1 of the raw bytes ("" for the restore root); paths are made from the names
   * up the parents (`dirRel`, `dirDisplay`): a snapshot's directories are many, so each holds
   * as little as it can.
   */
  name: string;
  /** Its name as patterns and messages show it (the tree node's `name`). */
  shown: string;
  /** What is applied once everything below it is written; undefined for the restore root. */
  meta?: DirMeta;
  /** Index of the parent in `dirs` (-1 for the root). */
  parent: number;
  /** Restore this directory (created, metadata applied); false for one only walked through. */
  materialize: boolean;
  /** The filter's decision, for judging target-only entries when deleting. */
  decision: FilterDecision;
  /**
   * Names (latin1 of the raw bytes) of every entry the snapshot lists here, selected or not;
   * kept only with `keepNames` (for --delete).
   */
  names?: Set<string>;
}

export interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  atime?: string;
  mtime: string;
}

export interface PlanEntry {
  /** Path below the target, raw bytes. */
  rel: Buffer;
  /** The path below the restore root, as patterns see it ("/tmp/foo"). */
  display: string;
  node: TreeNode;
  /** Index of the parent directory in `dirs`. */
  dir: number;
}

export interface RestorePlan {
  /** The sub-path restored ("" for the whole snapshot): `prefix + display` is the snapshot path. */
  prefix: string;
  dirs: PlanDir[];
  /** Files, symlinks and special files, in walk order (with `onEntries`: those not handed over yet). */
  entries: PlanEntry[];
  /** Directories whose listing could not be read (nothing below them is restored). */
  errors: { path: string; message: string; code: ErrorCode }[];
}

export interface PlanOptions {
  /** Restore only this directory of the snapshot ("/tmp/foo"). */
  subPath?: string;
  filter: RestoreFilter;
  warn: WarningSink;
  signal?: AbortSignal;
  /**
   * Called as soon as a directory is known to be restored (its parent was announced before),
   * so the target can be prepared while the walk goes on. A directory only walked through is
   * announced (and set to `materialize`) when an entry below it is restored; one that turns
   * out to hold only restored directories is not: see `materialize`.
   */
  onDir?: (no: number) => void;
  /**
   * Takes the entries found so far, every `batch` entries and at the end; the walk waits for
   * it. Each entry's directory (and every directory above it) was announced to `onDir` before.
   */
  onEntries?: (entries: PlanEntry[]) => Promise<void>;
  /** Entries per `onEntries` call (default 4096). */
  batch?: number;
  /** Keep each directory's `names` (for --delete). */
  keepNames?: boolean;
}

const TREE_LOADS = 8;
const BATCH = 1024;
/** Subdirectories whose trees are loaded ahead of the walk (more measured no faster). */
const PREFETCH = 16;

/** An empty plan, for `buildPlan` to fill (callers watching it grow hold it from the start). */
export function emptyPlan(): RestorePlan {
  return { prefix: "", dirs: [], entries: [], errors: [] };
}

interface Walk {
  plan: RestorePlan;
  loader: TreeLoader;
  opts: PlanOptions;
  /** Directories announced to `onDir` (by number). */
  announced: boolean[];
}

export async function buildPlan(repo: Repository, treeId: string, opts: PlanOptions, plan: RestorePlan = emptyPlan()): Promise<RestorePlan> {
  const loader = new TreeLoader(repo);
  const { id, display } = await resolveSubPath(loader, treeId, opts.subPath);
  plan.prefix = display === "/" ? "" : display;
  plan.dirs.push({ name: "", shown: "", parent: -1, materialize: true, decision: opts.filter.root() });
  const ctx: Walk = { plan, loader, opts, announced: [true] };
  opts.onDir?.(0);
  await walk(ctx, loader.load(id), 0, Buffer.alloc(0), "");
  await flush(ctx);
  return plan;
}

async function flush({ plan, opts }: Walk): Promise<void> {
  if (!opts.onEntries || plan.entries.length === 0) return;
  const batch = plan.entries;
  plan.entries = [];
  await opts.onEntries(batch);
}

/**
 * Announces a directory that is to be restored, with every directory above it not announced
 * yet: those were only walked through so far, and now hold something restored.
 */
function announce({ plan, opts, announced }: Walk, no: number): void {
  for (let i = no; i >= 0 && !announced[i]; i = (plan.dirs[i] as PlanDir).parent) {
    (plan.dirs[i] as PlanDir).materialize = true;
    announced[i] = true;
  }
  opts.onDir?.(no);
}

/** Walks one directory: `rel` and `display` are its paths (see PlanEntry). */
async function walk(ctx: Walk, tree: Promise<TreeNode[]>, dirNo: number, rel: Buffer, display: string): Promise<boolean> {
  const { plan, loader, opts } = ctx;
  if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The restore was interrupted.");
  const dir = plan.dirs[dirNo] as PlanDir;
  let nodes: TreeNode[];
  try {
    nodes = await tree;
  } catch (err) {
    if (err instanceof CofferError && err.code === "INTERRUPTED") throw err;
    plan.errors.push({ path: plan.prefix + display || "/", message: `the directory's listing cannot be read, so nothing in it was restored: ${(err as Error).message}`, code: err instanceof CofferError ? err.code : "CORRUPT" });
    return false;
  }
  const wanted: { node: TreeNode; name: Buffer; decision: FilterDecision }[] = [];
  const names = new Set<string>();
  if (opts.keepNames) dir.names = names;
  for (const node of nodes) {
    const name = nameBytes(node);
    const key = name.toString("latin1");
    const path = `${display}/${node.name}`;
    const full = plan.prefix + path;
    const why = unsafeNameReason(name);
    if (why !== undefined) {
      opts.warn({ code: "UNSAFE_PATH", message: `${JSON.stringify(full)} has ${why}; it was not restored`, path: full });
      continue;
    }
    if (names.has(key)) {
      opts.warn({ code: "UNSAFE_PATH", message: `${full} appears twice in its directory; only the first was restored`, path: full });
      continue;
    }
    names.add(key);
    const decision = opts.filter.decide(path, node.type === "dir", dir.decision);
    if (decision.selected || decision.descend) wanted.push({ node, name, decision });
  }
  // Subtrees are loaded ahead of the walk (see PREFETCH).
  const subdirs = wanted.filter((w) => w.node.type === "dir");
  const ahead = new Map<number, Promise<TreeNode[]>>();
  const prefetch = (from: number): void => {
    for (let i = from; i < Math.min(from + PREFETCH, subdirs.length); i++) {
      if (ahead.has(i)) continue;
      const st = (subdirs[i] as (typeof subdirs)[number]).node.subtree;
      const p = st ? loader.load(st) : Promise.resolve([]);
      p.catch(() => undefined); // observed when its turn comes
      ahead.set(i, p);
    }
  };
  let added = false;
  let sub = 0;
  for (const w of wanted) {
    const childRel = joinPath(rel, w.name);
    const childDisplay = `${display}/${w.node.name}`;
    if (w.node.type !== "dir") {
      if (w.decision.selected) {
        if (!ctx.announced[dirNo]) announce(ctx, dirNo);
        plan.entries.push({ rel: childRel, display: childDisplay, node: w.node, dir: dirNo });
        added = true;
        if (plan.entries.length >= (opts.batch ?? BATCH)) await flush(ctx);
      }
      continue;
    }
    prefetch(sub);
    const subtree = ahead.get(sub) as Promise<TreeNode[]>;
    ahead.delete(sub++);
    const no = plan.dirs.length;
    const n = w.node;
    const meta: DirMeta = { mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, ...(n.atime ? { atime: n.atime } : {}) };
    plan.dirs.push({ name: w.name.toString("latin1"), shown: n.name, meta, parent: dirNo, materialize: w.decision.selected, decision: w.decision });
    if (w.decision.selected && ctx.announced[dirNo]) announce(ctx, no);
    // A directory only walked through is created when something below it is restored.
    if (await walk(ctx, subtree, no, childRel, childDisplay)) (plan.dirs[no] as PlanDir).materialize = true;
    if ((plan.dirs[no] as PlanDir).materialize) added = true;
  }
  return added;
}

/** A directory's path below the target, raw bytes ("" for the restore root). */
export function dirRel(plan: RestorePlan, no: number): Buffer {
  return Buffer.from(dirPath(plan, no, (d) => d.name), "latin1");
}

/** A directory's path below the restore root as patterns see it ("/tmp/foo"; "" for the root). */
export function dirDisplay(plan: RestorePlan, no: number): string {
  return no === 0 ? "" : `/${dirPath(plan, no, (d) => d.shown)}`;
}

function dirPath(plan: RestorePlan, no: number, part: (d: PlanDir) => string): string {
  const parts: string[] = [];
  for (let i = no; i > 0; ) {
    const d = plan.dirs[i] as PlanDir;
    parts.push(part(d));
    i = d.parent;
  }
  return parts.reverse().join("/");
}

async function resolveSubPath(loader: TreeLoader, root: string, subPath: string | undefined): Promise<{ id: string; display: string }> {
  const comps = (subPath ?? "").split("/").filter((c) => c !== "" && c !== ".");
  if (comps.includes("..")) throw new CofferError("USAGE", `The sub-path "${subPath}" holds "..".`, { subPath });
  let id = root;
  let display = "";
  for (const c of comps) {
    const nodes = await loader.load(id);
    const want = Buffer.from(c);
    const node = nodes.find((n) => nameBytes(n).equals(want));
    display += `/${c}`;
    if (!node) throw new CofferError("NOT_FOUND", `The snapshot has no ${display}; run "coffer ls" to see what it holds.`, { path: display });
    if (node.type !== "dir" || !node.subtree) throw new CofferError("INVALID", `${display} is not a directory in the snapshot; give a directory to restore.`, { path: display });
    id = node.subtree;
  }
  return { id, display: display || "/" };
}

/**
 * Tree blobs are read in aligned blocks of their pack, of which the last few used are kept:
 * a walk reads most of a snapshot's trees, which sit together in a few packs, but holding
 * those packs whole (as Repository.loadBlob does) would cost memory that grows with the
 * snapshot. Blocks read again are cheap (ranged reads, usually from the page cache).
 */
const BLOCK = 256 * 1024;
const BLOCKS = 16;

/** Loads tree blobs, a few at a time; each is checked against its id (decodeBlob). */
class TreeLoader {
  #active = 0;
  #waiting: (() => void)[] = [];
  readonly #blocks = new Map<string, Promise<Buffer>>();
  readonly #sizes = new Map<string, Promise<number>>();

  constructor(private readonly repo: Repository) {}

  async load(id: string): Promise<TreeNode[]> {
    while (this.#active >= TREE_LOADS) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return decodeTree(await this.#blob(Buffer.from(id, "hex"))).nodes;
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError("CORRUPT", `Tree ${id.slice(0, 8)} cannot be read (${(err as Error).message}); run "coffer check".`, { tree: id });
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  /** As Repository.loadBlob: each pack the index names for it in turn, until one is good. */
  async #blob(id: Buffer): Promise<Buffer> {
    const candidates = this.repo.index.entriesOf(id).filter((e) => e.type === "tree");
    if (candidates.length === 0) throw new CofferError("NOT_FOUND", `tree blob ${id.toString("hex").slice(0, 8)} is not in the index; run "coffer check".`, { blob: id.toString("hex") });
    let lastErr: unknown;
    for (const e of candidates) {
      try {
        return decodeBlob(await this.#bytes(e), e, this.repo.crypter, this.repo.idKey, `pack ${e.pack.slice(0, 8)}`);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }

  async #bytes(e: IndexedBlob): Promise<Buffer> {
    const no = Math.floor(e.offset / BLOCK);
    // A blob across a block boundary is read by itself.
    if (Math.floor((e.offset + e.length - 1) / BLOCK) !== no) return this.repo.backend.load({ type: "data", name: e.pack }, { offset: e.offset, length: e.length });
    const block = await this.#block(e.pack, no);
    const at = e.offset - no * BLOCK;
    if (at + e.length > block.length) throw new CofferError("CORRUPT", `Pack ${e.pack.slice(0, 8)} is shorter than its index says.`, { pack: e.pack });
    return block.subarray(at, at + e.length);
  }

  #block(pack: string, no: number): Promise<Buffer> {
    const key = `${pack}:${no}`;
    let p = this.#blocks.get(key);
    if (p) {
      this.#blocks.delete(key);
    } else {
      p = this.#size(pack).then((size) => {
        const offset = no * BLOCK;
        if (offset >= size) throw new CofferError("CORRUPT", `Pack ${pack.slice(0, 8)} is shorter than its index says.`, { pack });
        return this.repo.backend.load({ type: "data", name: pack }, { offset, length: Math.min(BLOCK, size - offset) });
      });
      const mine = p;
      p.catch(() => {
        if (this.#blocks.get(key) === mine) this.#blocks.delete(key);
      });
    }
    this.#blocks.set(key, p);
    for (const old of this.#blocks.keys()) {
      if (this.#blocks.size <= BLOCKS) break;
      this.#blocks.delete(old);
    }
    return p;
  }

  #size(pack: string): Promise<number> {
    let p = this.#sizes.get(pack);
    if (!p) {
      p = this.repo.backend.stat({ type: "data", name: pack }).then((f) => f.size);
      p.catch(() => this.#sizes.delete(pack));
      this.#sizes.set(pack, p);
    }
    return p;
  }
}
