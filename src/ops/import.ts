import { createHash } from "node:crypto";
import { hostname as osHostname, userInfo } from "node:os";
import { basename } from "node:path";
import { FastCdc } from "../chunker/fastcdc.js";
import { CofferError, isCofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import { PROGRAM } from "../core/version.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import { PackSaver } from "../repository/pack-saver.js";
import type { Repository } from "../repository/repository.js";
import type { Snapshot, SnapshotSummary, SnapshotWithId } from "../snapshot/snapshot.js";
import { saveSnapshot } from "../snapshot/snapshot-store.js";
import { encodeTree, isoFromNs, strictUtf8, type TreeNode } from "../snapshot/tree.js";
import { type ArchiveProblem, floorSeconds, isoSeconds, ManifestChecker, type ReadFile } from "./archive-check.js";
import { type ArchiveFormat, stripArchiveSuffix } from "./archive-format.js";
import type { ArchiveManifest } from "./archive-manifest.js";
import { type ArchiveItem, openArchive } from "./archive-source.js";
import { normalizePath } from "./export.js";
import { dirNode, ImportTree, type NodeMeta } from "./import-tree.js";

/**
 * `import`: an archive (a coffer export, or any ZIP or tar) becomes an `import` snapshot.
 * File contents are chunked with the repository's chunker and packed like a backup's (on this
 * thread), so they deduplicate against everything already stored.
 *
 * A coffer archive is verified against its manifest while it is read; any difference, like
 * any damage the format shows, stops the import with CORRUPT naming the file, and no snapshot
 * is written. Packs saved before the failure are referenced by no snapshot: harmless, and
 * removed by the next `prune`.
 *
 * Where the entries go: under `as`; by default a coffer archive's entries go back to their
 * snapshot paths (under the manifest's `base`) and any other archive's under
 * /import/<archive name without extension>. Entries with ".." in their path are refused
 * (warning UNSAFE_PATH); sockets, devices and FIFOs are left out (warning SKIPPED).
 */
export interface ImportOptions {
  /** The archive's path, or a tar stream (plain, gzip or zstd). */
  input: string | AsyncIterable<Uint8Array>;
  /** The archive's name in messages and in the default root (default: the path, or "stdin"). */
  name?: string;
  format?: ArchiveFormat;
  /** The snapshot directory the archive's entries go under. */
  as?: string;
  /** Added to the tags a coffer archive carries. */
  tags?: string[];
  label?: string;
  description?: string;
  host?: string;
  time?: Date;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

export interface ImportResult {
  snapshot: SnapshotWithId;
  format: ArchiveFormat;
  /** The archive had a coffer manifest and every file matched it. */
  verified: boolean;
  /** The id of the snapshot a coffer archive was exported from. */
  exportedFrom?: string;
  /** The snapshot directory the entries went under. */
  root: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  skipped: number;
  bytes: number;
  warnings: Warning[];
}

export async function importArchive(repo: Repository, opts: ImportOptions): Promise<ImportResult> {
  const started = repo.clock();
  const name = opts.name ?? (typeof opts.input === "string" ? opts.input : "stdin");
  const progress = opts.progress ?? silentProgress;
  const warnings: Warning[] = [];
  const warn = (w: Warning): void => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  try {
    return await run(repo, opts, { name, started, warn, progress, warnings });
  } catch (err) {
    if (isCofferError(err, "CORRUPT")) {
      throw new CofferError("CORRUPT", `${err.message.replace(/\.?$/, ".")} Nothing was imported: no snapshot was written.`, err.data, { cause: err });
    }
    throw err;
  }
}

interface Run {
  name: string;
  started: Date;
  warn: (w: Warning) => void;
  progress: Progress;
  warnings: Warning[];
}

async function run(repo: Repository, opts: ImportOptions, { name, started, warn, progress, warnings }: Run): Promise<ImportResult> {
  const src = await openArchive(opts.input, { ...(opts.format ? { format: opts.format } : {}), name });
  try {
    const lock = await Lock.acquire(repo, { exclusive: false, onWarning: warn });
    try {
      if (repo.index.files.size === 0) await repo.loadIndex();
      const saver = new PackSaver(repo);
      try {
        const imp = new Importer(repo, saver, warn, progress, opts.signal);
        for await (const item of src.items()) await imp.add(item);
        imp.check(imp.checker.finish());
        const manifest = imp.manifest;
        const time = opts.time ?? (manifest ? new Date(manifest.snapshot.time) : started);
        const root = normalizePath(opts.as ?? (manifest ? manifest.included.base : `/import/${stripArchiveSuffix(basename(name)) || "archive"}`));
        const paths = opts.as !== undefined || !manifest ? [root] : manifest.included.path === "/" ? manifest.snapshot.paths : [manifest.included.path];
        const tree = await imp.saveTrees(root, time);
        await saver.flush();
        const finished = repo.clock();
        const c = imp.counts;
        const summary: SnapshotSummary = {
          files_new: c.files,
          files_changed: 0,
          files_unmodified: 0,
          dirs_new: imp.tree.dirs,
          dirs_changed: 0,
          dirs_unmodified: 0,
          files_failed: 0,
          bytes_read: c.bytes,
          bytes_total: c.bytes,
          bytes_added: saver.bytesAdded,
          blobs_added: saver.blobsAdded,
          files_total: c.files,
          started: started.toISOString(),
          finished: finished.toISOString(),
          duration_s: (finished.getTime() - started.getTime()) / 1000,
        };
        const tags = [...new Set([...(manifest?.snapshot.tags ?? []), ...(opts.tags ?? [])])];
        const label = opts.label ?? manifest?.snapshot.label ?? undefined;
        const description = opts.description ?? manifest?.snapshot.description ?? `imported from ${basename(name)}`;
        const snap: Snapshot = {
          time: time.toISOString(),
          hostname: opts.host ?? manifest?.snapshot.hostname ?? osHostname(),
          username: safeUser(),
          ...owner(),
          paths,
          tree,
          tags,
          kind: "import",
          ...(label ? { label } : {}),
          ...(description ? { description } : {}),
          summary,
          program: PROGRAM,
        };
        const id = await saveSnapshot(repo, snap);
        return {
          snapshot: { ...snap, id },
          format: src.format,
          verified: manifest !== undefined,
          ...(manifest ? { exportedFrom: manifest.snapshot.id } : {}),
          root,
          files: c.files,
          dirs: imp.tree.dirs,
          symlinks: c.symlinks,
          hardlinks: c.hardlinks,
          skipped: c.skipped,
          bytes: c.bytes,
          warnings,
        };
      } catch (err) {
        await saver.abandon().catch(() => undefined);
        throw err;
      }
    } finally {
      await lock.release();
    }
  } finally {
    progress.done();
    await src.close();
  }
}

class Importer {
  readonly tree: ImportTree;
  readonly checker = new ManifestChecker();
  manifest: ArchiveManifest | undefined;
  readonly counts = { files: 0, bytes: 0, symlinks: 0, hardlinks: 0, skipped: 0 };
  readonly #cdc: FastCdc;
  readonly #hashes = new Map<string, string>();
  readonly #now: Date;
  #buf: Buffer | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly saver: PackSaver,
    private readonly warn: (w: Warning) => void,
    private readonly progress: Progress,
    private readonly signal: AbortSignal | undefined,
  ) {
    const k = repo.config.chunker;
    this.#cdc = new FastCdc({ min: k.min, avg: k.avg, max: k.max, seed: BigInt(`0x${k.seed}`) });
    this.tree = new ImportTree(warn);
    this.#now = repo.clock();
  }

  async add(item: ArchiveItem): Promise<void> {
    if (this.signal?.aborted) throw new CofferError("INTERRUPTED", "The import was interrupted; no snapshot was written.");
    if (item.type === "manifest" && item.manifest) {
      this.manifest = item.manifest;
      this.check(this.checker.setManifest(item.manifest));
      return;
    }
    const comps = components(item.pathBytes);
    if (comps.some((c) => c.length === 2 && c[0] === 0x2e && c[1] === 0x2e)) {
      this.warn({ code: "UNSAFE_PATH", message: `${item.path} leads out of the archive (".."); left out`, path: item.path });
      return;
    }
    const meta = this.#meta(item);
    switch (item.type) {
      case "dir":
        this.tree.dir(comps, meta, item.path);
        return;
      case "file": {
        const { ids, size, sha256 } = await this.#store(item);
        this.#file(item, comps, meta, size, sha256, ids);
        return;
      }
      case "hardlink": {
        const target = item.linkname ? this.tree.find(components(item.linkname)) : undefined;
        const sha256 = item.linkname ? this.#hashes.get(item.linkname.toString("latin1")) : undefined;
        if (target === undefined || target.type !== "file" || sha256 === undefined) {
          throw new CofferError("CORRUPT", `${item.path}: a hard link to ${item.linkname?.toString("utf8") ?? "nothing"}, which is not a file in the archive before it.`, { path: item.path, damage: "header" });
        }
        this.counts.hardlinks++;
        this.#file(item, comps, meta, target.size, sha256, target.content ?? [], target);
        return;
      }
      case "symlink": {
        const target = item.linkname ?? Buffer.alloc(0);
        const text = strictUtf8(target);
        const link = text !== undefined ? { linktarget: text } : { linktarget: target.toString("latin1"), linktarget_raw: target.toString("base64") };
        this.tree.leaf(comps, { type: "symlink", ...nodeMeta(meta), size: target.length, ...link }, item.path);
        this.counts.symlinks++;
        return;
      }
      default:
        this.counts.skipped++;
        this.warn({ code: "SKIPPED", message: `${item.path} is not a file, directory or symlink; left out`, path: item.path });
    }
  }

  #file(item: ArchiveItem, comps: Buffer[], meta: NodeMeta, size: number, sha256: string, content: string[], linkTo?: TreeNode): void {
    const read: ReadFile = { path: item.path, pathBytes: item.pathBytes, size, sha256 };
    if (item.mode !== undefined) read.mode = item.mode;
    if (item.exactTime && item.mtimeNs !== undefined) read.mtimeSec = floorSeconds(item.mtimeNs);
    this.check(this.checker.file(read));
    // The manifest keeps nanoseconds where a ZIP keeps seconds.
    const want = this.checker.expected(item.pathBytes);
    if (want !== undefined && typeof want.mtime === "string" && item.mtimeNs !== undefined && isoSeconds(want.mtime) === floorSeconds(item.mtimeNs)) {
      meta.mtime = want.mtime;
    }
    this.#hashes.set(item.pathBytes.toString("latin1"), sha256);
    this.tree.leaf(comps, { type: "file", ...nodeMeta(meta), size, content }, item.path, linkTo);
    this.counts.files++;
    this.counts.bytes += size;
    this.progress.update({ phase: "import", filesDone: this.counts.files, bytesDone: this.counts.bytes, current: item.path });
  }

  /** Differences from the manifest: content ones are fatal, metadata ones are warnings. */
  check(problems: ArchiveProblem[]): void {
    for (const p of problems) {
      if (p.kind === "mode" || p.kind === "mtime") {
        this.warn({ code: "CHANGED", message: `${p.message}; the archive's value is kept`, ...(p.path ? { path: p.path } : {}) });
        continue;
      }
      throw new CofferError("CORRUPT", `The archive does not match its manifest: ${p.message}.`, { ...(p.path ? { path: p.path } : {}), damage: p.kind });
    }
  }

  #meta(item: ArchiveItem): NodeMeta {
    const mtimeNs = item.mtimeNs ?? BigInt(this.#now.getTime()) * 1_000_000n;
    const o = owner();
    const meta: NodeMeta = {
      mode: item.mode ?? (item.type === "dir" ? 0o755 : 0o644),
      uid: item.uid ?? o.uid ?? 0,
      gid: item.gid ?? o.gid ?? 0,
      mtime: isoFromNs(mtimeNs),
    };
    if (item.uname) meta.user = item.uname;
    if (item.gname) meta.group = item.gname;
    return meta;
  }

  /** Chunks, hashes and packs one file's content; returns its blob ids. */
  async #store(item: ArchiveItem): Promise<{ ids: string[]; size: number; sha256: string }> {
    const cdc = this.#cdc;
    const buf = (this.#buf ??= Buffer.allocUnsafe(cdc.max * 2));
    const hash = createHash("sha256");
    const ids: string[] = [];
    let len = 0;
    let size = 0;
    const cut = async (eof: boolean): Promise<void> => {
      let pos = 0;
      while (pos < len) {
        const n = cdc.cut(buf, pos, len, eof);
        if (n === 0) break;
        ids.push((await this.saver.addBlob("data", buf.subarray(pos, pos + n))).toString("hex"));
        pos += n;
      }
      buf.copy(buf, 0, pos, len);
      len -= pos;
    };
    for await (const chunk of item.body()) {
      hash.update(chunk);
      size += chunk.length;
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(buf.length - len, chunk.length - off);
        chunk.copy(buf, len, off, off + n);
        len += n;
        off += n;
        if (len === buf.length) await cut(false);
      }
      if (this.signal?.aborted) throw new CofferError("INTERRUPTED", "The import was interrupted; no snapshot was written.");
      this.progress.update({ phase: "import", filesDone: this.counts.files, bytesDone: this.counts.bytes + size, current: item.path });
    }
    await cut(true);
    return { ids, size, sha256: hash.digest("hex") };
  }

  /** Saves the trees with the entries under `root`; returns the snapshot's root tree id. */
  async saveTrees(root: string, time: Date): Promise<string> {
    const o = owner();
    const defaults: NodeMeta = { mode: 0o755, uid: o.uid ?? 0, gid: o.gid ?? 0, mtime: isoFromNs(BigInt(time.getTime()) * 1_000_000n) };
    const saveTree = async (nodes: TreeNode[]): Promise<string> => (await this.saver.addBlob("tree", encodeTree({ nodes }))).toString("hex");
    let tree = await this.tree.save(saveTree, defaults);
    const comps = root.split("/").filter(Boolean);
    for (let i = comps.length - 1; i >= 0; i--) {
      tree = await saveTree([{ ...dirNode(Buffer.from(comps[i] as string), defaults, "0"), subtree: tree }]);
      this.tree.dirs++;
    }
    return tree;
  }
}

function nodeMeta(m: NodeMeta): Pick<TreeNode, "mode" | "uid" | "gid" | "user" | "group" | "mtime" | "ctime"> {
  const n: Pick<TreeNode, "mode" | "uid" | "gid" | "user" | "group" | "mtime" | "ctime"> = { mode: m.mode & 0o7777, uid: m.uid, gid: m.gid, mtime: m.mtime, ctime: m.mtime };
  if (m.user !== undefined) n.user = m.user;
  if (m.group !== undefined) n.group = m.group;
  return n;
}

function components(p: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i === p.length || p[i] === 0x2f) {
      if (i > start && !(i - start === 1 && p[start] === 0x2e)) out.push(p.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

function owner(): { uid?: number; gid?: number } {
  return typeof process.getuid === "function" ? { uid: process.getuid(), gid: process.getgid?.() ?? 0 } : {};
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}
