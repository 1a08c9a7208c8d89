import { CofferError } from "../core/errors.js";
import { ID_BYTES, toHex } from "../core/hex.js";
import type { TreeSummary } from "./tree-summary.js";

/**
 * The tree half of `check`: walks every tree reachable from the snapshots, once per tree id
 * however many snapshots share it, and says for each tree which damaged objects (trees that
 * do not load, data blobs missing or damaged) lie below it. Results are memoised per tree, so
 * finding the snapshots a damaged blob affects costs nothing beyond the walk itself.
 */
export type DataState = "ok" | "missing" | "damaged";

export interface TreeCheckDeps {
  /**
   * Loads, verifies and summarises a tree blob. Damage is thrown as a plain Error or a CofferError CORRUPT
   * or NOT_FOUND (recorded as a finding); any other CofferError stops the walk.
   */
  loadTree(id: string): Promise<TreeSummary>;
  /** A summary already at hand (made while the data was read), taken instead of a load. */
  takeSummary?(id: string): TreeSummary | undefined;
  /** Whether the data blob (its 32-byte id) is in the index and not known to be damaged. */
  dataState(id: Uint8Array): DataState;
  /** Tree loads at once. */
  concurrency: number;
  onTree?: () => void;
}

const NONE: readonly string[] = Object.freeze([]);

/** The damaged objects below a tree, or a promise of them while trees below are loading. */
type Found = readonly string[] | Promise<readonly string[]>;

export class TreeChecker {
  /** Trees that failed to load or hold invalid nodes, with the reason. */
  readonly treeProblems = new Map<string, string>();
  /** Data blobs a tree names that no index lists. */
  readonly missingBlobs = new Set<string>();
  treesChecked = 0;
  /** Per tree: what `reach` found, or will find once its loads are done. */
  readonly #memo = new Map<string, Found>();
  #active = 0;
  readonly #queue: (() => void)[] = [];

  constructor(private readonly deps: TreeCheckDeps) {}

  /** The damaged objects (tree and data blob ids) reachable from a tree, itself included. */
  async reach(id: string): Promise<readonly string[]> {
    return this.#reach(id);
  }

  /**
   * Trees with a summary at hand are walked synchronously (no promise per tree); only trees
   * that must be loaded, and the trees above them, wait.
   */
  #reach(id: string): Found {
    let found = this.#memo.get(id);
    if (found === undefined) {
      const summary = this.deps.takeSummary?.(id);
      found = summary ? this.#visit(id, summary) : this.#load(id);
      this.#memo.set(id, found);
    }
    return found;
  }

  async #load(id: string): Promise<readonly string[]> {
    let tree: TreeSummary;
    try {
      tree = await this.#limited(() => this.deps.loadTree(id));
    } catch (err) {
      // Damage is a finding; anything else (backend down, interrupted) stops the check.
      if (err instanceof CofferError && err.code !== "CORRUPT" && err.code !== "NOT_FOUND") throw err;
      this.treeProblems.set(id, err instanceof Error ? err.message : String(err));
      this.treesChecked++;
      this.deps.onTree?.();
      return [id];
    }
    return this.#visit(id, tree);
  }

  #visit(id: string, tree: TreeSummary): Found {
    this.treesChecked++;
    this.deps.onTree?.();
    const bad = new Set<string>();
    const waiting: Promise<readonly string[]>[] = [];
    for (let o = 0; o < tree.subtrees.length; o += ID_BYTES) {
      const sub = this.#reach(toHex(tree.subtrees.subarray(o, o + ID_BYTES)));
      if (sub instanceof Promise) waiting.push(sub);
      else for (const b of sub) bad.add(b);
    }
    for (let o = 0; o < tree.blobs.length; o += ID_BYTES) {
      const b = tree.blobs.subarray(o, o + ID_BYTES);
      const state = this.deps.dataState(b);
      if (state === "ok") continue;
      const hex = toHex(b);
      if (state === "missing") this.missingBlobs.add(hex);
      bad.add(hex);
    }
    const invalid = tree.invalid;
    if (invalid.length) {
      this.treeProblems.set(id, `tree ${id.slice(0, 8)} is invalid: ${invalid.slice(0, 3).join("; ")}${invalid.length > 3 ? ` (and ${invalid.length - 3} more)` : ""}`);
      bad.add(id);
    }
    const done = (): readonly string[] => (bad.size === 0 ? NONE : [...bad]);
    if (waiting.length === 0) return done();
    return Promise.all(waiting).then((subs) => {
      for (const sub of subs) for (const b of sub) bad.add(b);
      return done();
    });
  }

  async #limited<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing load hands its slot straight to the next waiter.
    if (this.#active >= this.deps.concurrency) await new Promise<void>((r) => this.#queue.push(r));
    else this.#active++;
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
