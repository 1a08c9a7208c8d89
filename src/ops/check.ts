import { CofferError } from "../core/errors.js";
import { toHex } from "../core/hex.js";
import { type Progress, silentProgress } from "../core/progress.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { type BlobEntry, decodeBlob } from "../repository/blob.js";
import { Lock } from "../repository/lock.js";
import { mapLimit } from "../repository/map-limit.js";
import { MasterIndex } from "../repository/master-index.js";
import { decodeHeader, encodeHeader, HEADER_ENTRY } from "../repository/pack.js";
import type { Repository } from "../repository/repository.js";
import { defaultWorkerCount } from "../snapshot/archive-pool.js";
import { decodeTree } from "../snapshot/tree.js";
import { checkConfigAndKeys } from "./check-config.js";
import { readData, summarizeTreePacks } from "./check-data.js";
import { findingText, isDamage, sentence } from "./check-findings.js";
import { CheckPool } from "./check-pool.js";
import { type DataSubset, parseSubset, selectPacks } from "./check-subset.js";
import { type DataState, TreeChecker } from "./check-trees.js";
import { describeDiff, diffEntries, expectedPackSize, readPackHeader } from "./pack-header.js";
import { stampIntegrity } from "./stamp-integrity.js";
import { packSummary, type SummaryBatch, SummaryStore, summarizeTree, type TreeSummary } from "./tree-summary.js";

export interface CheckOptions {
  /** Read, decrypt and verify every byte of every pack. */
  readData?: boolean;
  /** Read only some packs: `n/t` (the n-th of t groups by pack id) or `x%` (a random x %). */
  readDataSubset?: string;
  progress?: Progress;
  /** Receives warnings about the lock (stale locks removed); check findings are in the result. */
  onWarning?: WarningSink;
  signal?: AbortSignal;
  /** Worker threads for the data check (default: one per core, at most 8). */
  workers?: number;
  /** After a full data check (`readData` without a subset) without errors, stamp `integrity.verified_at` on every snapshot (default true). */
  stampIntegrity?: boolean;
}

export type CheckProblemKind = "config" | "key" | "index" | "pack" | "blob" | "snapshot" | "tree";

/** One finding: the damaged object, what is wrong, and the snapshots it affects. */
export interface CheckProblem {
  kind: CheckProblemKind;
  /** The object's id (file name, pack id, blob or tree id; "config" for the config). */
  id: string;
  message: string;
  /** Snapshots that reach the damage (only where it affects any). */
  snapshots?: string[];
  /** For a pack: the blobs in it that fail verification or are at risk. */
  blobs?: string[];
}

export interface CheckResult {
  /** No errors (warnings allowed). */
  ok: boolean;
  errors: CheckProblem[];
  warnings: CheckProblem[];
  /** Packs the index names, each checked against the pack's header or by reading it whole. */
  packsChecked: number;
  /** Packs read whole and verified. */
  packsRead: number;
  blobsRead: number;
  bytesRead: number;
  snapshotsChecked: number;
  /** Snapshots that cannot be restored completely, sorted. */
  damagedSnapshots: string[];
  /** Every indexed pack was read and found (by `readData`, or by a subset that covered them all). */
  fullRead: boolean;
  /** Snapshots rewritten with `integrity.verified_at`: the id checked, and the id now. */
  stamped: { id: string; newId: string }[];
}

interface PackDamage {
  messages: string[];
  /** Blobs (hex) that fail, or are at risk when the pack was not read. */
  blobs: Set<string>;
}

/**
 * Checks a repository's structure and, on request, its data; see DESIGN.md "Restore,
 * rollback, check". Problems never stop the check: it reports every damaged object and the
 * snapshots it affects. Throws only when the check itself cannot run (lock held, backend
 * down, interrupted, a bad subset).
 */
export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  const subset = opts.readDataSubset !== undefined ? parseSubset(opts.readDataSubset) : undefined;
  const lock = await Lock.acquire(repo, { exclusive: false, onWarning: (w: Warning) => opts.onWarning?.(w) });
  try {
    return await new Checker(repo, opts).run(subset);
  } finally {
    (opts.progress ?? silentProgress).done();
    await lock.release();
  }
}

class Checker {
  readonly errors: CheckProblem[] = [];
  readonly warnings: CheckProblem[] = [];
  /** The index as the readable, current index files describe it. */
  readonly index = new MasterIndex();
  /** Each indexed pack's entries, header-encoded (46 bytes a blob, no objects per blob). */
  readonly packEntries = new Map<string, Buffer>();
  readonly onDisk = new Map<string, number>();
  readonly damage = new Map<string, PackDamage>();
  /** Damaged blob → the packs in which it is damaged. */
  readonly damagedBlobs = new Map<string, Set<string>>();
  readonly progress: Progress;
  readonly treeSummaries = new SummaryStore();
  packsRead = 0;
  blobsRead = 0;
  bytesRead = 0;

  constructor(
    readonly repo: Repository,
    readonly opts: CheckOptions,
  ) {
    this.progress = opts.progress ?? silentProgress;
  }

  async run(subset: DataSubset | undefined): Promise<CheckResult> {
    const fullRead = await this.#indexAndPacks(subset);
    const snaps = await this.#snapshots();
    const damagedSnapshots = [...snaps.damaged].sort();
    const result: CheckResult = {
      ok: this.errors.length === 0,
      errors: this.errors,
      warnings: this.warnings,
      packsChecked: this.packEntries.size,
      packsRead: this.packsRead,
      blobsRead: this.blobsRead,
      bytesRead: this.bytesRead,
      snapshotsChecked: snaps.checked,
      damagedSnapshots,
      fullRead,
      stamped: [],
    };
    // Only a full check that was asked for stamps: a subset that happens to cover every pack
    // does not, so what a command does never depends on how pack ids fall.
    if (fullRead && subset === undefined && result.ok && (this.opts.stampIntegrity ?? true)) {
      this.#throwIfAborted();
      result.stamped = await stampIntegrity(this.repo, snaps.good, this.repo.clock(), this.progress);
    }
    return result;
  }

  /**
   * The index, the pack listing, then at once the header check of packs not read, the data
   * read, and the summaries of trees in packs not read: the main thread's reads overlap the
   * workers' CPU, and no tree is decoded twice. One worker pool does the CPU work of all of it,
   * index files included (their JSON never reaches the main thread's heap). Returns whether
   * every pack was read.
   */
  async #indexAndPacks(subset: DataSubset | undefined): Promise<boolean> {
    // The workers start while the config and keys are read; they parse the index files.
    const pool = new CheckPool(this.repo, Math.max(1, this.opts.workers ?? defaultWorkerCount()));
    try {
      this.progress.update({ phase: "check:config" });
      await checkConfigAndKeys(this.repo, (p) => this.#error(p));
      const indexErrors = await this.#indexFiles(pool);
      await this.#listPacks(indexErrors);
      const indexed = [...this.packEntries.keys()].filter((p) => this.onDisk.has(p)).sort();
      const toRead = subset ? selectPacks(indexed, subset) : this.opts.readData ? indexed : [];
      const reading = new Set(toRead);
      const notRead = indexed.filter((p) => !reading.has(p));
      const treePacks = notRead.map((pack) => ({ pack, trees: this.#entries(pack).filter((e) => e.type === "tree") })).filter((p) => p.trees.length > 0);
      // A summary's tag is its entry's position; the entry's id is at byte 2 of its 46.
      const onTrees = (encoded: Buffer, batch: SummaryBatch): void => this.treeSummaries.add(batch, (i) => encoded.toString("hex", i * HEADER_ENTRY + 2, i * HEADER_ENTRY + 34));
      const throwIfAborted = (): void => this.#throwIfAborted();
      await Promise.all([
        this.#packHeaders(notRead),
        treePacks.length ? summarizeTreePacks(this.repo, { pool, packs: treePacks, onTrees, throwIfAborted }) : undefined,
        toRead.length
          ? readData(this.repo, {
              pool,
              packs: toRead,
              encoded: (p) => this.packEntries.get(p) ?? Buffer.alloc(0),
              size: (p) => this.onDisk.get(p) ?? 0,
              onDamage: (p, messages, blobs) => this.#markPack(p, messages, blobs),
              onTrees,
              progress: this.progress,
              throwIfAborted,
            }).then((counts) => ({ packsRead: this.packsRead, blobsRead: this.blobsRead, bytesRead: this.bytesRead } = counts))
          : undefined,
      ]);
      return reading.size === indexed.length && indexed.length === this.packEntries.size && (this.opts.readData === true || subset !== undefined);
    } finally {
      await pool.close();
    }
  }

  #error(p: CheckProblem): void {
    this.errors.push(p);
  }

  #throwIfAborted(): void {
    if (this.opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The check was interrupted; run it again to finish.");
  }

  /** Loads every index file; returns how many failed. */
  async #indexFiles(pool: CheckPool): Promise<number> {
    // The largest first: the workers parse them, and a large file started last would leave
    // one worker parsing while the other waits.
    const listed = await this.repo.listFiles("index");
    const ids = [...listed].sort((a, b) => b.size - a.size).map((f) => f.name);
    let done = 0;
    const parsed = await mapLimit(ids, this.repo.backend.properties.connections, async (id) => {
      this.#throwIfAborted();
      try {
        return { id, file: await pool.readIndex(id, await this.repo.backend.load({ type: "index", name: id })) };
      } catch (err) {
        if (!isDamage(err)) throw err;
        this.#error({ kind: "index", id, message: `Index file ${id.slice(0, 8)} is damaged (${findingText(err)}); run "coffer repair index" to rebuild the index from the packs.` });
        return undefined;
      } finally {
        this.progress.update({ phase: "check:index", filesDone: ++done, filesTotal: ids.length });
      }
    });
    // Then by id again, so what is reported does not depend on the sizes.
    const byId = new Map(parsed.filter((f) => f !== undefined).map((f) => [f.id, f]));
    const good = listed.flatMap((f) => byId.get(f.name) ?? []);
    const supersededBy = new Map<string, string>();
    for (const f of good) for (const s of f.file.supersedes) supersededBy.set(s, f.id);
    const kept = good.filter((f) => !supersededBy.has(f.id));
    this.index.reserve(kept.reduce((n, f) => n + f.file.packs.reduce((m, [, blobs]) => m + blobs.length / HEADER_ENTRY, 0), 0));
    for (const f of good) {
      const by = supersededBy.get(f.id);
      if (by !== undefined) {
        this.warnings.push({ kind: "index", id: f.id, message: `Index file ${f.id.slice(0, 8)} is superseded by ${by.slice(0, 8)} but still present (an interrupted prune or index repair); the next prune or "coffer repair index" removes it.` });
        continue;
      }
      for (const [pack, blobs] of f.file.packs) this.#addPack(pack, blobs);
    }
    return parsed.length - good.length;
  }

  /** Adds a pack's index entries (pack-header encoding). */
  #addPack(pack: string, encoded: Buffer): void {
    const what = `pack ${pack.slice(0, 8)}`;
    const known = this.packEntries.get(pack);
    if (!known) {
      // A worker encoded these entries from the index file it parsed: whole entries of known
      // types, registered without an object per blob.
      this.packEntries.set(pack, encoded);
      this.index.addEncoded(pack, encoded);
      return;
    }
    // A pack listed by two index files keeps the union of its entries.
    const add = diffEntries(decodeHeader(encoded, what), decodeHeader(known, what)).missing;
    if (add.length === 0) return;
    this.packEntries.set(pack, Buffer.concat([known, encodeHeader(add)]));
    this.index.addPack(pack, add);
  }

  #entries(pack: string): BlobEntry[] {
    const b = this.packEntries.get(pack);
    return b ? decodeHeader(b, `pack ${pack.slice(0, 8)}`) : [];
  }

  async #listPacks(indexErrors: number): Promise<void> {
    this.progress.update({ phase: "check:packs" });
    for await (const f of this.repo.backend.list("data")) this.onDisk.set(f.name, f.size);
    for (const pack of [...this.packEntries.keys()].sort()) {
      if (!this.onDisk.has(pack)) this.#markPack(pack, ["it is missing"], this.#entries(pack));
    }
    const hint = indexErrors > 0 ? `no readable index names it; "coffer repair index" indexes it again (prune would remove it)` : "unreferenced pack; prune removes it";
    for (const pack of [...this.onDisk.keys()].sort()) {
      if (!this.packEntries.has(pack)) this.warnings.push({ kind: "pack", id: pack, message: `Pack ${pack.slice(0, 8)}: ${hint}.` });
    }
  }

  #markPack(pack: string, messages: string[], blobs: readonly BlobEntry[]): void {
    let d = this.damage.get(pack);
    if (!d) this.damage.set(pack, (d = { messages: [], blobs: new Set() }));
    d.messages.push(...messages);
    for (const e of blobs) {
      const hex = e.id.toString("hex");
      d.blobs.add(hex);
      let packs = this.damagedBlobs.get(hex);
      if (!packs) this.damagedBlobs.set(hex, (packs = new Set()));
      packs.add(pack);
    }
  }

  /** Structure: each pack's header (read from its tail) lists exactly what the index says. */
  async #packHeaders(packs: string[]): Promise<void> {
    let done = 0;
    const { backend, crypter } = this.repo;
    await mapLimit(packs, backend.properties.connections * 2, async (pack) => {
      this.#throwIfAborted();
      const entries = this.#entries(pack);
      const size = this.onDisk.get(pack) ?? 0;
      const want = expectedPackSize(entries, crypter);
      try {
        if (size !== want) {
          this.#markPack(pack, [`it has ${size} bytes where its index entries need ${want} (truncated or overwritten)`], entries);
          return;
        }
        const header = await readPackHeader(backend, crypter, pack, size, entries.length);
        const diff = diffEntries(entries, header);
        if (diff.missing.length || diff.extra.length) this.#markPack(pack, [`its header does not match the index: ${describeDiff(diff)}`], diff.missing);
      } catch (err) {
        if (!isDamage(err)) throw err;
        this.#markPack(pack, [`its header is damaged (${findingText(err)}); its blobs were not read`], entries);
      } finally {
        this.progress.update({ phase: "check:packs", filesDone: ++done, filesTotal: packs.length });
      }
    });
  }

  #dataState = (id: Uint8Array): DataState => {
    if (!this.index.has(id)) return "missing";
    if (this.damagedBlobs.size === 0) return "ok";
    const bad = this.damagedBlobs.get(toHex(id));
    if (!bad) return "ok";
    // Damaged here, but a good copy in another pack is as good as no damage.
    return this.index.entriesOf(id).every((e) => bad.has(e.pack)) ? "damaged" : "ok";
  };

  async #loadTree(hex: string): Promise<TreeSummary> {
    this.#throwIfAborted();
    const id = Buffer.from(hex, "hex");
    const where = this.index.entriesOf(id).filter((e) => e.type === "tree");
    if (where.length === 0) throw new Error(`tree ${hex.slice(0, 8)} is not in the index`);
    let last: unknown;
    for (const e of where) {
      if (!this.onDisk.has(e.pack)) {
        last = new Error(`tree ${hex.slice(0, 8)} is in pack ${e.pack.slice(0, 8)}, which is missing`);
        continue;
      }
      try {
        const stored = await this.repo.backend.load({ type: "data", name: e.pack }, { offset: e.offset, length: e.length });
        const plain = decodeBlob(stored, e, this.repo.crypter, this.repo.idKey, `pack ${e.pack.slice(0, 8)}`);
        try {
          return packSummary(summarizeTree(decodeTree(plain)));
        } catch (err) {
          throw new Error(`tree ${hex.slice(0, 8)} is not a valid tree (${findingText(err)})`);
        }
      } catch (err) {
        if (!isDamage(err)) throw err;
        last = err;
      }
    }
    throw last;
  }

  /** Snapshot files, then every tree they reach; fills in who each problem affects. */
  async #snapshots(): Promise<{ checked: number; damaged: Set<string>; good: { id: string; json: Record<string, unknown> }[] }> {
    this.#throwIfAborted();
    const ids = await this.repo.listIds("snapshot");
    const damaged = new Set<string>();
    const loaded = await mapLimit(ids, this.repo.backend.properties.connections * 2, async (id) => {
      try {
        const json = (await this.repo.loadJson("snapshot", id)) as Record<string, unknown>;
        if (json === null || typeof json !== "object" || typeof json["tree"] !== "string" || !/^[0-9a-f]{64}$/.test(json["tree"])) {
          throw new Error("it has no valid tree id");
        }
        return { id, json, tree: json["tree"] };
      } catch (err) {
        if (this.repo.backend.isNotFound(err)) return undefined; // forgotten meanwhile
        if (!isDamage(err)) throw err;
        this.#error({ kind: "snapshot", id, message: `Snapshot ${id.slice(0, 8)} is damaged: ${findingText(err)}`, snapshots: [id] });
        damaged.add(id);
        return undefined;
      }
    });
    const good = loaded.filter((s) => s !== undefined);
    const trees = new TreeChecker({
      loadTree: (id) => this.#loadTree(id),
      takeSummary: (id) => this.treeSummaries.take(id),
      dataState: this.#dataState,
      concurrency: this.repo.backend.properties.connections * 2,
      onTree: () => this.progress.update({ phase: "check:trees", filesDone: trees.treesChecked }),
    });
    const affected = new Map<string, Set<string>>();
    await Promise.all(
      good.map(async (s) => {
        const bad = await trees.reach(s.tree);
        if (bad.length) damaged.add(s.id);
        for (const b of bad) {
          let set = affected.get(b);
          if (!set) affected.set(b, (set = new Set()));
          set.add(s.id);
        }
      }),
    );
    this.#throwIfAborted();
    const snapsOf = (ids: Iterable<string>): string[] => {
      const out = new Set<string>();
      for (const id of ids) for (const s of affected.get(id) ?? []) out.add(s);
      return [...out].sort();
    };
    for (const [pack, d] of [...this.damage.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const blobs = [...d.blobs].sort();
      this.#error({ kind: "pack", id: pack, message: `Pack ${pack.slice(0, 8)} is damaged: ${d.messages.join("; ")}.`, blobs, snapshots: snapsOf(blobs) });
    }
    for (const [tree, message] of [...trees.treeProblems.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      this.#error({ kind: "tree", id: tree, message: `${sentence(message)}.`, snapshots: snapsOf([tree]) });
    }
    for (const blob of [...trees.missingBlobs].sort()) {
      this.#error({ kind: "blob", id: blob, message: `Data blob ${blob.slice(0, 8)} is referenced but no index lists it.`, snapshots: snapsOf([blob]) });
    }
    return { checked: ids.length, damaged, good: good.map((s) => ({ id: s.id, json: s.json })) };
  }
}
