import { mkdir } from "node:fs/promises";
import { type BigIntStats, chmodSync, closeSync, mkdirSync, statSync, ftruncateSync, lchownSync, linkSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { constants } from "node:fs";
import { spawnSync } from "node:child_process";
import { CofferError, type ErrorCode, ioError, sysCode } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { WarningSink } from "../core/warning.js";
import type { IndexedBlob } from "../repository/master-index.js";
import type { Repository } from "../repository/repository.js";
import { applyFdMeta, type FdMeta, type NativeFs, setTimes } from "./native.js";
import type { FilterDecision, RestoreFilter } from "./restore-filter.js";
import type { PlanDir, PlanEntry, RestorePlan } from "./restore-plan.js";
import type { ActionKind, OverwritePolicy, RestoreResult } from "./restorer.js";
import { createFileNoFollow, joinPath, lstatIfExists, makeRealDir, openForReadNoFollow, removeEntry } from "./safe-path.js";
import { encodeName, linkTargetBytes, nsFromIso, strictUtf8, type TreeNode } from "./tree.js";

/**
 * Everything a restore does in the target directory except writing file contents: creating
 * directories and files, deciding what to overwrite, hard links, symlinks and special files,
 * deleting, and metadata. In a dry run the same decisions are made and recorded, and nothing
 * is written. All paths are built below the target through checked directories (safe-path.ts).
 */
export interface TargetContext {
  repo: Repository;
  plan: RestorePlan;
  filter: RestoreFilter;
  /** Absolute path of the target directory. */
  target: Buffer;
  policy: OverwritePolicy;
  dryRun: boolean;
  /** Restore owners (running as root). */
  owners: boolean;
  native: NativeFs | undefined;
  result: RestoreResult;
  warn: WarningSink;
  progress: Progress;
  /** See RestoreOptions.deleteFilter. */
  deleteFilter?: (path: Buffer, stat: BigIntStats) => boolean;
}

/** A regular file whose content is written by the data phase. */
export interface FileJob {
  no: number;
  entry: PlanEntry;
  abs: Buffer;
  size: number;
  /** (file, offset) places not yet written. */
  remaining: number;
  failed: boolean;
  /**
   * All its blobs are in one pack range: the worker writing that range creates the file and
   * applies its metadata (set by the data phase). Otherwise the main thread does both.
   */
  metaByWorker: boolean;
  /** 32 bytes per content blob, and their plain lengths (for --verify). */
  ids: Buffer;
  lengths: number[];
}

/** A data blob and every (file, offset) it is written to. */
export interface Need {
  entry: IndexedBlob;
  /** Pairs: file number, offset. */
  targets: number[];
  /** Packs it was read from without success. */
  tried?: Set<string>;
}

export interface PreparedFiles {
  jobs: FileJob[];
  needs: Map<string, Need>;
}

/** ok: a directory that was there; fresh: made by this restore (so empty of anything else); missing: dry run, would be made. */
type DirState = "ok" | "fresh" | "missing" | "bad";

const DIR_CONCURRENCY = 16;

/** Runs at most `max` async tasks at once. */
class Limiter {
  #active = 0;
  #waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

interface Primary {
  abs: Buffer;
  content: string;
  job?: FileJob;
  /** Left as it was in the target (overwrite policy). */
  kept: boolean;
}

export class TargetWriter {
  readonly #state: DirState[] = [];
  readonly #created: boolean[] = [];
  readonly #deferred: PlanEntry[] = [];
  readonly #links: { entry: PlanEntry; primary: Primary }[] = [];
  filesTotal = 0;
  filesDone = 0;
  bytesTotal = 0;
  bytesDone = 0;

  constructor(readonly ctx: TargetContext) {}

  abs(rel: Buffer): Buffer {
    return rel.length === 0 ? this.ctx.target : joinPath(this.ctx.target, rel);
  }

  /** The snapshot path of an entry, for messages. */
  snapshotPath(display: string): string {
    return this.ctx.plan.prefix + display || "/";
  }

  report(current?: string): void {
    this.ctx.progress.update({ phase: "restore", filesDone: this.filesDone, filesTotal: this.filesTotal, bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, ...(current ? { current } : {}) });
  }

  error(path: string, message: string, code: ErrorCode, pack?: string): void {
    this.ctx.result.errors.push({ path, message, code, ...(pack ? { pack } : {}) });
  }

  #action(abs: Buffer, display: string | undefined, type: string, action: ActionKind): void {
    this.ctx.result.actions?.push({ path: abs.toString(), ...(display !== undefined ? { snapshotPath: this.snapshotPath(display) } : {}), type, action });
  }

  readonly #dirDone: (Promise<void> | undefined)[] = [];
  readonly #dirLimit = new Limiter(DIR_CONCURRENCY);

  /**
   * Starts creating (or checking) one directory once its parent is done; several run at once
   * (on slow file systems mkdir dominates restoring many small directories). Called during the
   * plan's walk, parents first, so the target is prepared while trees are still being read.
   */
  startDir(i: number): void {
    if (this.#dirDone[i]) return;
    if (i === 0) {
      this.#dirDone[0] = Promise.resolve();
      this.#created[0] = false;
      if (!this.ctx.dryRun) {
        const target = this.ctx.target.toString();
        try {
          mkdirSync(this.ctx.target, { recursive: true, mode: 0o700 });
        } catch (err) {
          throw ioError(err, `creating the target directory ${target}`);
        }
        if (!statSync(this.ctx.target).isDirectory()) throw new CofferError("INVALID", `The target ${target} is not a directory.`, { target });
        this.#state[0] = "ok";
      } else {
        this.#state[0] = lstatIfExists(this.ctx.target) ? "ok" : "missing";
      }
      return;
    }
    const d = this.ctx.plan.dirs[i] as PlanDir;
    this.startDir(d.parent);
    const parent = this.#dirDone[d.parent] as Promise<void>;
    this.#dirDone[i] = parent
      .then(() => this.#dirLimit.run(() => this.#prepareDir(i)))
      .catch((err: unknown) => {
        // Never left rejected: these promises are only awaited once the walk is over.
        this.#state[i] = "bad";
        this.error(this.abs(d.rel).toString(), `The directory could not be prepared, so nothing in it was restored: ${(err as Error).message}`, "IO");
      });
  }

  /** Waits for the directories already started (after a failed plan). */
  async settleDirs(): Promise<void> {
    await Promise.allSettled(this.#dirDone);
  }

  /** Every directory of the plan, ready (created, checked, or refused). */
  async prepareDirs(): Promise<void> {
    this.startDir(0);
    for (let i = 1; i < this.ctx.plan.dirs.length; i++) this.startDir(i);
    await Promise.all(this.#dirDone);
  }

  async #prepareDir(i: number): Promise<void> {
    const { dryRun, policy } = this.ctx;
    const d = this.ctx.plan.dirs[i] as PlanDir;
    const parent = this.#state[d.parent] ?? "bad";
    this.#created[i] = false;
    if (!d.materialize || parent === "bad") {
      this.#state[i] = parent === "bad" ? "bad" : "missing";
      return;
    }
    const abs = this.abs(d.rel);
    if (dryRun) {
      const st = parent === "missing" ? undefined : lstatIfExists(abs);
      if (st?.isDirectory()) this.#state[i] = "ok";
      else if (st && policy === "never") {
        this.#state[i] = "bad";
        this.ctx.warn({ code: "UNSAFE_PATH", message: `${abs.toString()} is not a directory where the snapshot has one; it would not be restored`, path: abs.toString() });
        return;
      } else {
        this.#state[i] = "missing";
        this.#action(abs, d.display, "dir", st ? "overwrite" : "create");
      }
      this.ctx.result.dirs++;
      return;
    }
    try {
      // In a directory this restore made, nothing can be in the way: plain mkdir.
      if (parent === "fresh") await mkdir(abs, 0o700);
      else this.#created[i] = makeRealDir(abs, policy !== "never");
      if (parent === "fresh") this.#created[i] = true;
      this.#state[i] = this.#created[i] ? "fresh" : "ok";
      this.ctx.result.dirs++;
    } catch (err) {
      this.#state[i] = "bad";
      if (err instanceof CofferError && err.data.unsafe) this.ctx.warn({ code: "UNSAFE_PATH", message: err.message, path: abs.toString() });
      else this.error(abs.toString(), `The directory ${abs.toString()} could not be created, so nothing in it was restored: ${(err as Error).message}`, "IO");
    }
  }

  /** What is at an entry's place in the target now (nothing, in a directory this restore made). */
  #existing(entry: PlanEntry, abs: Buffer): BigIntStats | undefined {
    const state = this.#state[entry.dir];
    return state === "missing" || state === "fresh" ? undefined : lstatIfExists(abs);
  }

  /** Decides for every file, makes room for the ones to write, and lists the blobs they need. */
  prepareFiles(): PreparedFiles {
    const { plan, dryRun, repo } = this.ctx;
    const out: PreparedFiles = { jobs: [], needs: new Map() };
    const primaries = new Map<string, Primary>();
    for (const entry of plan.entries) {
      const state = this.#state[entry.dir] ?? "bad";
      if (state === "bad") continue;
      const node = entry.node;
      if (node.type !== "file") {
        this.#deferred.push(entry);
        continue;
      }
      this.filesTotal++;
      const abs = this.abs(entry.rel);
      const content = (node.content ?? []).join(",");
      const key = node.links > 1 ? `${node.device}:${node.inode}` : undefined;
      const primary = key !== undefined ? primaries.get(key) : undefined;
      if (primary && primary.content === content) {
        this.#links.push({ entry, primary });
        continue;
      }
      const existing = this.#existing(entry, abs);
      const action = decide(existing, node, abs, this.ctx.policy);
      if (dryRun) this.#action(abs, entry.display, "file", action);
      if (key !== undefined) primaries.set(key, { abs, content, kept: action === "skip" });
      if (action === "skip") {
        this.ctx.result.filesSkipped++;
        this.filesDone++;
        continue;
      }
      const ids = Buffer.alloc((node.content?.length ?? 0) * 32);
      const lengths: number[] = [];
      const entries: IndexedBlob[] = [];
      let missing: string | undefined;
      (node.content ?? []).forEach((hex, i) => {
        const id = Buffer.from(hex, "hex");
        id.copy(ids, i * 32);
        const e = repo.index.lookup(id);
        if (!e || e.type !== "data") missing ??= hex;
        else {
          entries.push(e);
          lengths.push(e.rawLength);
        }
      });
      if (missing !== undefined) {
        this.error(abs.toString(), `${this.snapshotPath(entry.display)} was not restored: its data blob ${missing.slice(0, 8)} is not in the repository's index; run "coffer check".`, "NOT_FOUND");
        continue;
      }
      const size = lengths.reduce((a, b) => a + b, 0);
      this.ctx.result.filesRestored++;
      this.ctx.result.bytesRestored += size;
      if (dryRun) continue;
      const job: FileJob = { no: out.jobs.length, entry, abs, size, remaining: 0, failed: false, metaByWorker: false, ids, lengths };
      // Files with content are created by the data phase (see createFile): only make room here.
      try {
        if (existing) removeEntry(abs, existing);
        if (size === 0) this.createFile(job);
      } catch (err) {
        this.ctx.result.filesRestored--;
        this.ctx.result.bytesRestored -= size;
        this.error(abs.toString(), `${abs.toString()} could not be created: ${(err as Error).message}`, sysCode(err) === "ENOSPC" ? "NO_SPACE" : "IO");
        continue;
      }
      if (key !== undefined) (primaries.get(key) as Primary).job = job;
      out.jobs.push(job);
      if (size === 0) {
        this.filesDone++;
        continue;
      }
      this.bytesTotal += size;
      let offset = 0;
      for (const e of entries) {
        if (e.rawLength === 0) continue;
        const hex = e.id.toString("hex");
        let need = out.needs.get(hex);
        if (!need) out.needs.set(hex, (need = { entry: e, targets: [] }));
        need.targets.push(job.no, offset);
        offset += e.rawLength;
        job.remaining++;
      }
    }
    this.report();
    return out;
  }

  /**
   * Creates a file (nothing may be at its place) at its final size, so that blobs can be
   * written at their offsets in any order and unwritten runs of zeros stay holes. An empty
   * file gets its metadata at once. Throws on failure.
   */
  createFile(job: FileJob): void {
    const fd = createFileNoFollow(job.abs);
    try {
      if (job.size > 0) ftruncateSync(fd, job.size);
      else applyFdMeta(this.ctx.native, fd, this.meta(job.entry.node));
    } finally {
      closeSync(fd);
    }
  }

  meta(node: TreeNode): FdMeta {
    return {
      mode: node.mode & 0o7777,
      ...(this.ctx.owners ? { uid: node.uid, gid: node.gid } : {}),
      ...(node.atime ? { atimeNs: nsFromIso(node.atime) } : {}),
      mtimeNs: nsFromIso(node.mtime),
    };
  }

  /** Applies a file's metadata after all its content is written (main thread). */
  finishFile(job: FileJob): void {
    try {
      const fd = openForReadNoFollow(job.abs);
      try {
        applyFdMeta(this.ctx.native, fd, this.meta(job.entry.node));
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.failFile(job, `setting its metadata failed: ${(err as Error).message}`, "IO");
    }
  }

  failFile(job: FileJob, message: string, code: ErrorCode, pack?: string): void {
    if (job.failed) return;
    job.failed = true;
    this.ctx.result.filesRestored--;
    this.ctx.result.bytesRestored -= job.size;
    this.error(job.abs.toString(), `${this.snapshotPath(job.entry.display)} was not fully restored: ${message}`, code, pack);
  }

  /** Hard links, then symlinks and special files: after all file contents are written. */
  linkAndSpecials(): void {
    const { dryRun, result } = this.ctx;
    for (const { entry, primary } of this.#links) {
      const abs = this.abs(entry.rel);
      const existing = this.#existing(entry, abs);
      const prim = dryRun ? undefined : lstatIfExists(primary.abs);
      let action: ActionKind;
      if (existing && prim && existing.ino === prim.ino && existing.dev === prim.dev) action = "skip";
      else action = decide(existing, entry.node, abs, this.ctx.policy) === "skip" ? "skip" : existing ? "overwrite" : "create";
      this.filesDone++;
      if (dryRun) this.#action(abs, entry.display, "hardlink", action);
      if (action === "skip") {
        result.filesSkipped++;
        continue;
      }
      if (!dryRun && (primary.job?.failed || (!primary.job && !primary.kept) || !prim?.isFile())) {
        this.error(abs.toString(), `${this.snapshotPath(entry.display)} was not restored: it is a hard link of ${primary.abs.toString()}, which was not restored.`, "IO");
        continue;
      }
      try {
        if (!dryRun) {
          if (existing) removeEntry(abs, existing);
          linkSync(primary.abs, abs);
        }
        result.filesRestored++;
      } catch (err) {
        this.error(abs.toString(), `The hard link ${abs.toString()} could not be made: ${(err as Error).message}`, "IO");
      }
    }
    for (const entry of this.#deferred) this.#special(entry);
    this.report();
  }

  #special(entry: PlanEntry): void {
    const { dryRun, result, native, owners } = this.ctx;
    const node = entry.node;
    const abs = this.abs(entry.rel);
    const existing = this.#existing(entry, abs);
    const action = decide(existing, node, abs, this.ctx.policy);
    const skip = (why: string): void => this.ctx.warn({ code: "SKIPPED", message: `${this.snapshotPath(entry.display)} (${node.type}) was not restored: ${why}`, path: abs.toString() });
    if (node.type === "socket") return skip("sockets are made by the programs that listen on them");
    if ((node.type === "dev" || node.type === "chardev") && !(owners && native)) return skip(owners ? "device nodes need the native addon" : "device nodes can only be made as root");
    if (dryRun) this.#action(abs, entry.display, node.type, action);
    if (action === "skip") {
      result.filesSkipped++;
      return;
    }
    if (dryRun) {
      if (node.type === "symlink") result.symlinks++;
      else result.specials++;
      return;
    }
    try {
      if (existing) removeEntry(abs, existing);
      if (node.type === "symlink") {
        // The link text is restored as it was; it is never followed by the restore.
        symlinkSync(linkTargetBytes(node), abs);
        result.symlinks++;
      } else {
        if (node.type === "fifo") makeFifo(native, abs, node.mode & 0o7777);
        else (native as NativeFs).mknod(abs, (node.type === "dev" ? constants.S_IFBLK : constants.S_IFCHR) | (node.mode & 0o7777), BigInt(node.rdev ?? "0"));
        result.specials++;
      }
    } catch (err) {
      if (err instanceof CofferError && err.code === "UNSUPPORTED") return skip(err.message);
      this.error(abs.toString(), `${this.snapshotPath(entry.display)} could not be restored: ${(err as Error).message}`, "IO");
      return;
    }
    try {
      if (owners) lchownSync(abs, node.uid, node.gid);
      if (node.type !== "symlink") chmodSync(abs, node.mode & 0o7777);
      setTimes(native, abs, node.atime ? nsFromIso(node.atime) : undefined, nsFromIso(node.mtime));
    } catch (err) {
      this.error(abs.toString(), `The metadata of ${abs.toString()} could not be set: ${(err as Error).message}`, "IO");
    }
  }

  /** Removes what the target holds and the snapshot does not, within the selected part. */
  deleteExtra(): void {
    const real: boolean[] = [];
    this.ctx.plan.dirs.forEach((d, i) => {
      const state = this.#state[i];
      let isReal: boolean;
      if (state === "fresh") {
        real.push(true); // made by this restore: holds nothing to delete
        return;
      }
      if (i === 0 || d.materialize) isReal = state === "ok";
      else isReal = real[d.parent] === true && lstatIfExists(this.abs(d.rel))?.isDirectory() === true;
      real.push(isReal);
      if (isReal) this.#deleteIn(this.abs(d.rel), d.display, d.names, d.decision);
    });
  }

  #deleteIn(dir: Buffer, display: string, names: Set<string>, decision: FilterDecision): void {
    let list: Buffer[];
    try {
      list = readdirSync(dir, { encoding: "buffer" });
    } catch (err) {
      this.error(dir.toString(), `${dir.toString()} could not be listed for --delete: ${(err as Error).message}`, "IO");
      return;
    }
    for (const name of list) {
      if (names.has(name.toString("latin1"))) continue;
      const abs = joinPath(dir, name);
      const st = lstatIfExists(abs);
      if (!st) continue;
      const path = `${display}/${encodeName(name).name}`;
      const d = this.ctx.filter.decide(path, st.isDirectory(), decision);
      if (d.selected && this.ctx.deleteFilter) {
        this.#deleteFiltered(abs, st, this.ctx.deleteFilter);
      } else if (d.selected) {
        if (this.ctx.dryRun) this.#action(abs, undefined, typeOf(st), "delete");
        else {
          try {
            removeEntry(abs, st);
          } catch (err) {
            this.error(abs.toString(), `${abs.toString()} could not be deleted: ${(err as Error).message}`, "IO");
            continue;
          }
        }
        this.ctx.result.deleted++;
      } else if (d.descend && st.isDirectory()) {
        this.#deleteIn(abs, path, new Set(), d);
      }
    }
  }

  /** Removes `abs` if `allow` says so, a directory entry by entry; returns whether it is (would be) gone. */
  #deleteFiltered(abs: Buffer, st: BigIntStats, allow: (path: Buffer, stat: BigIntStats) => boolean): boolean {
    if (!allow(abs, st)) return false;
    if (st.isDirectory()) {
      let list: Buffer[];
      try {
        list = readdirSync(abs, { encoding: "buffer" });
      } catch (err) {
        this.error(abs.toString(), `${abs.toString()} could not be listed for --delete: ${(err as Error).message}`, "IO");
        return false;
      }
      let empty = true;
      for (const name of list) {
        const child = joinPath(abs, name);
        const cst = lstatIfExists(child);
        if (cst && !this.#deleteFiltered(child, cst, allow)) empty = false;
      }
      if (!empty) return false;
    }
    if (this.ctx.dryRun) this.#action(abs, undefined, typeOf(st), "delete");
    else {
      try {
        removeEntry(abs, st);
      } catch (err) {
        this.error(abs.toString(), `${abs.toString()} could not be deleted: ${(err as Error).message}`, "IO");
        return false;
      }
    }
    this.ctx.result.deleted++;
    return true;
  }

  /** Directory metadata, children before parents, once nothing more is written below them. */
  finishDirs(): void {
    if (this.ctx.dryRun) return;
    const { plan, owners, native, policy } = this.ctx;
    for (let i = plan.dirs.length - 1; i > 0; i--) {
      const d = plan.dirs[i];
      const state = this.#state[i];
      if (!d?.node || (state !== "ok" && state !== "fresh") || !d.materialize) continue;
      if (policy === "never" && !this.#created[i]) continue;
      const abs = this.abs(d.rel);
      try {
        // One this restore made is still the directory it made; any other is checked again.
        if (state !== "fresh" && !lstatIfExists(abs)?.isDirectory()) continue;
        if (owners) lchownSync(abs, d.node.uid, d.node.gid);
        chmodSync(abs, d.node.mode & 0o7777);
        setTimes(native, abs, d.node.atime ? nsFromIso(d.node.atime) : undefined, nsFromIso(d.node.mtime));
      } catch (err) {
        this.error(abs.toString(), `The metadata of the directory ${abs.toString()} could not be set: ${(err as Error).message}`, "IO");
      }
    }
  }
}

/** What to do with an entry given what is in the target now. */
function decide(existing: BigIntStats | undefined, node: TreeNode, abs: Buffer, policy: OverwritePolicy): ActionKind {
  if (!existing) return "create";
  switch (policy) {
    case "never":
      return "skip";
    case "always":
      return "overwrite";
    case "if-newer":
      return nsFromIso(node.mtime) > existing.mtimeNs ? "overwrite" : "skip";
    case "if-changed":
      return sameAsNode(existing, node, abs) ? "skip" : "overwrite";
  }
}

function sameAsNode(st: BigIntStats, node: TreeNode, abs: Buffer): boolean {
  switch (node.type) {
    case "file":
      return st.isFile() && st.size === BigInt(node.size) && st.mtimeNs === nsFromIso(node.mtime);
    case "symlink":
      try {
        return st.isSymbolicLink() && readlinkSync(abs, { encoding: "buffer" }).equals(linkTargetBytes(node));
      } catch {
        return false;
      }
    case "fifo":
      return st.isFIFO();
    case "dev":
    case "chardev":
      return (node.type === "dev" ? st.isBlockDevice() : st.isCharacterDevice()) && st.rdev.toString() === (node.rdev ?? "");
    default:
      return false;
  }
}

function typeOf(st: BigIntStats): string {
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  return "other";
}

function makeFifo(native: NativeFs | undefined, abs: Buffer, mode: number): void {
  if (native) return native.mkfifo(abs, mode);
  const path = strictUtf8(abs);
  if (path === undefined) throw new CofferError("UNSUPPORTED", "its name is not UTF-8 and the native addon is not built");
  const r = spawnSync("mkfifo", ["-m", mode.toString(8), "--", path]);
  if (r.status !== 0) throw new CofferError("UNSUPPORTED", `mkfifo failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
}
