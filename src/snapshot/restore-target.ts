import { type BigIntStats, chmodSync, closeSync, ftruncateSync, lchownSync, mkdirSync, statSync } from "node:fs";
import { CofferError, type ErrorCode, ioError, sysCode } from "../core/errors.js";
import type { Progress } from "../core/progress.js";
import type { WarningSink } from "../core/warning.js";
import type { IndexedBlob } from "../repository/master-index.js";
import type { Repository } from "../repository/repository.js";
import { applyFdMeta, type FdMeta, type NativeFs, setTimes } from "./native.js";
import { overwriteAction } from "./overwrite-policy.js";
import type { RestoreFilter } from "./restore-filter.js";
import { dirDisplay, dirRel, type PlanDir, type PlanEntry, type RestorePlan } from "./restore-plan.js";
import type { ActionKind, OverwritePolicy, RestoreResult } from "./restorer.js";
import { createFileNoFollow, joinPath, lstatIfExists, makeRealDir, openDirNoFollow, openForReadNoFollow, removeEntry } from "./safe-path.js";
import { nsFromIso, type TreeNode } from "./tree.js";

/**
 * What a restore does in the target directory around the file contents: directories (made
 * while the plan is walked), deciding what to overwrite and making room, creating files,
 * and metadata; hard links, symlinks and special files are in restore-specials.ts, --delete
 * in restore-delete.ts. In a dry run the same decisions are made and recorded, and nothing is
 * written. All paths are built below the target through checked directories (safe-path.ts).
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
  /** Its number for the workers: unique in the restore (batches go on counting). */
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
  /** For --verify only: 32 bytes per content blob, and their plain lengths. */
  verify?: { ids: Buffer; lengths: number[] };
}

/** A data blob and every (file, offset) it is written to. */
export interface Need {
  entry: IndexedBlob;
  /** Pairs: file number, offset. */
  targets: number[];
  /** Packs it was read from without success. */
  tried?: Set<string>;
}

/** One batch of files: `jobs[i].no` is `base + i`. */
export interface PreparedFiles {
  base: number;
  jobs: FileJob[];
  needs: Map<string, Need>;
}

/** ok: a directory that was there; fresh: made by this restore (so empty of anything else); missing: dry run, would be made. */
export type DirState = "ok" | "fresh" | "missing" | "bad";

export interface Primary {
  abs: Buffer;
  content: string;
  job?: FileJob;
  /** Left as it was in the target (overwrite policy). */
  kept: boolean;
}

export class TargetWriter {
  readonly #state: DirState[] = [];
  readonly #created: boolean[] = [];
  /** Symlinks and special files, made after all file contents (restore-specials.ts). */
  readonly deferred: PlanEntry[] = [];
  /** Hard links to make once their primary is written (restore-specials.ts). */
  readonly links: { entry: PlanEntry; primary: Primary }[] = [];
  /** Files with several links, by device and inode: the first one restored (all batches). */
  readonly #primaries = new Map<string, Primary>();
  /** Files are numbered on across batches. */
  #nextFile = 0;
  filesTotal = 0;
  filesDone = 0;
  bytesTotal = 0;
  bytesDone = 0;

  constructor(readonly ctx: TargetContext) {}

  abs(rel: Buffer): Buffer {
    return rel.length === 0 ? this.ctx.target : joinPath(this.ctx.target, rel);
  }

  /** The absolute path of a directory of the plan. */
  dirAbs(i: number): Buffer {
    return this.abs(dirRel(this.ctx.plan, i));
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

  /** Records what a dry run would do. */
  action(abs: Buffer, display: string | undefined, type: string, action: ActionKind): void {
    this.ctx.result.actions?.push({ path: abs.toString(), ...(display !== undefined ? { snapshotPath: this.snapshotPath(display) } : {}), type, action });
  }

  readonly #dirDone: boolean[] = [];

  /**
   * Creates (or checks) one directory, its parent first. Called during the plan's walk, so the
   * target is prepared while trees are still being read. Plain synchronous mkdir on purpose:
   * measured on ext4, 20,000 of them take 0.5 s in a row and 2 s through the thread pool
   * (promise overhead, and parallel mkdirs contend in the kernel instead of going faster).
   * Made in the background one at a time (a later try, with each batch of files waiting for
   * its directories), a restore of 21k directories was no faster (docs/performance.md).
   */
  startDir(i: number): void {
    if (this.#dirDone[i]) return;
    this.#dirDone[i] = true;
    if (i === 0) {
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
    this.#prepareDir(i);
  }

  /** Every directory of the plan, ready (created, checked, or refused). */
  prepareDirs(): void {
    for (let i = 0; i < this.ctx.plan.dirs.length; i++) this.startDir(i);
  }

  #prepareDir(i: number): void {
    const { dryRun, policy } = this.ctx;
    const d = this.ctx.plan.dirs[i] as PlanDir;
    const parent = this.#state[d.parent] ?? "bad";
    this.#created[i] = false;
    if (!d.materialize || parent === "bad") {
      this.#state[i] = parent === "bad" ? "bad" : "missing";
      return;
    }
    const abs = this.dirAbs(i);
    if (dryRun) {
      const st = parent === "missing" ? undefined : lstatIfExists(abs);
      if (st?.isDirectory()) this.#state[i] = "ok";
      else if (st && policy === "never") {
        this.#state[i] = "bad";
        this.ctx.warn({ code: "UNSAFE_PATH", message: `${abs.toString()} is not a directory where the snapshot has one; it would not be restored`, path: abs.toString() });
        return;
      } else {
        this.#state[i] = "missing";
        this.action(abs, dirDisplay(this.ctx.plan, i), "dir", st ? "overwrite" : "create");
      }
      this.ctx.result.dirs++;
      return;
    }
    try {
      // In a directory this restore made, nothing can be in the way: plain mkdir.
      if (parent === "fresh") {
        mkdirSync(abs, 0o700);
        this.#created[i] = true;
      } else {
        this.#created[i] = makeRealDir(abs, policy !== "never");
      }
      this.#state[i] = this.#created[i] ? "fresh" : "ok";
      this.ctx.result.dirs++;
    } catch (err) {
      this.#state[i] = "bad";
      if (err instanceof CofferError && err.data.unsafe) this.ctx.warn({ code: "UNSAFE_PATH", message: err.message, path: abs.toString() });
      else this.error(abs.toString(), `The directory ${abs.toString()} could not be created, so nothing in it was restored: ${(err as Error).message}`, sysCode(err) === "ENOSPC" ? "NO_SPACE" : "IO");
    }
  }

  dirState(i: number): DirState | undefined {
    return this.#state[i];
  }

  /** What is at an entry's place in the target now (nothing, in a directory this restore made). */
  existing(entry: PlanEntry, abs: Buffer): BigIntStats | undefined {
    const state = this.#state[entry.dir];
    return state === "missing" || state === "fresh" ? undefined : lstatIfExists(abs);
  }

  /**
   * Decides for every file of a batch of entries, makes room for the ones to write, and lists
   * the blobs they need. `verify` keeps each file's blob ids and lengths for --verify.
   */
  prepareFiles(entries: readonly PlanEntry[], verify = false): PreparedFiles {
    const { dryRun, repo } = this.ctx;
    const primaries = this.#primaries;
    const out: PreparedFiles = { base: this.#nextFile, jobs: [], needs: new Map() };
    for (const entry of entries) {
      const state = this.#state[entry.dir] ?? "bad";
      if (state === "bad") continue;
      const node = entry.node;
      if (node.type !== "file") {
        this.deferred.push(entry);
        continue;
      }
      this.filesTotal++;
      const abs = this.abs(entry.rel);
      const key = node.links > 1 ? `${node.device}:${node.inode}` : undefined;
      // Hard links of one inode have the same content; a pair that does not is two files.
      const content = key !== undefined ? (node.content ?? []).join(",") : "";
      const primary = key !== undefined ? primaries.get(key) : undefined;
      if (primary && primary.content === content) {
        this.links.push({ entry, primary });
        continue;
      }
      const existing = this.existing(entry, abs);
      const action = overwriteAction(existing, node, abs, this.ctx.policy);
      if (dryRun) this.action(abs, entry.display, "file", action);
      if (key !== undefined) primaries.set(key, { abs, content, kept: action === "skip" });
      if (action === "skip") {
        this.ctx.result.filesSkipped++;
        this.filesDone++;
        continue;
      }
      const blobs: IndexedBlob[] = [];
      let missing: string | undefined;
      let size = 0;
      for (const hex of node.content ?? []) {
        const e = repo.index.lookup(Buffer.from(hex, "hex"));
        if (!e || e.type !== "data") missing ??= hex;
        else {
          blobs.push(e);
          size += e.rawLength;
        }
      }
      if (missing !== undefined) {
        this.error(abs.toString(), `${this.snapshotPath(entry.display)} was not restored: its data blob ${missing.slice(0, 8)} is not in the repository's index; run "coffer check".`, "NOT_FOUND");
        continue;
      }
      this.ctx.result.filesRestored++;
      this.ctx.result.bytesRestored += size;
      if (dryRun) continue;
      const job: FileJob = { no: out.base + out.jobs.length, entry, abs, size, remaining: 0, failed: false, metaByWorker: false };
      if (verify) job.verify = { ids: Buffer.concat(blobs.map((e) => e.id)), lengths: blobs.map((e) => e.rawLength) };
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
      for (const e of blobs) {
        if (e.rawLength === 0) continue;
        const hex = e.id.toString("hex");
        let need = out.needs.get(hex);
        if (!need) out.needs.set(hex, (need = { entry: e, targets: [] }));
        need.targets.push(job.no, offset);
        offset += e.rawLength;
        job.remaining++;
      }
    }
    this.#nextFile += out.jobs.length;
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

  /** Directory metadata, children before parents, once nothing more is written below them. */
  finishDirs(): void {
    if (this.ctx.dryRun) return;
    const { plan, owners, native, policy } = this.ctx;
    for (let i = plan.dirs.length - 1; i > 0; i--) {
      const d = plan.dirs[i];
      const state = this.#state[i];
      const meta = d?.meta;
      if (!meta || (state !== "ok" && state !== "fresh") || !d.materialize) continue;
      if (policy === "never" && !this.#created[i]) continue;
      const abs = this.dirAbs(i);
      try {
        // Through the directory's fd, opened without following a link: a directory swapped
        // for a symlink since it was made (by another process) is not followed to whatever
        // the link names, which chmod and chown by path did. One this restore did not make
        // may be anything by now: only a directory is changed.
        let fd: number | undefined;
        try {
          fd = openDirNoFollow(abs);
        } catch (err) {
          const code = sysCode(err);
          if (state !== "fresh" && (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP")) continue;
          if (code !== "EACCES") throw err;
        }
        if (fd === undefined) {
          // A directory its owner may not read (not one this restore made): by its path.
          if (!lstatIfExists(abs)?.isDirectory()) continue;
          if (owners) lchownSync(abs, meta.uid, meta.gid);
          chmodSync(abs, meta.mode & 0o7777);
          setTimes(native, abs, meta.atime ? nsFromIso(meta.atime) : undefined, nsFromIso(meta.mtime));
          continue;
        }
        try {
          applyFdMeta(native, fd, { mode: meta.mode & 0o7777, ...(owners ? { uid: meta.uid, gid: meta.gid } : {}), ...(meta.atime ? { atimeNs: nsFromIso(meta.atime) } : {}), mtimeNs: nsFromIso(meta.mtime) });
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        this.error(abs.toString(), `The metadata of the directory ${abs.toString()} could not be set: ${(err as Error).message}`, "IO");
      }
    }
  }
}
