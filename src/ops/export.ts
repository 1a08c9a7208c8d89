import { createHash } from "node:crypto";
import { hostname as osHostname } from "node:os";
import { CofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import { PROGRAM } from "../core/version.js";
import type { WarningSink } from "../core/warning.js";
import { Lock } from "../repository/lock.js";
import type { Repository } from "../repository/repository.js";
import { type FilterDecision, RestoreFilter } from "../snapshot/restore-filter.js";
import { contentSize, fileBlobs } from "../snapshot/file-content.js";
import type { SnapshotWithId } from "../snapshot/snapshot.js";
import { linkTargetBytes, nsFromIso, type TreeNode } from "../snapshot/tree.js";
import { loadTreeNodes, lookupPath, type WalkAction, walkTree } from "../snapshot/walker.js";
import type { ArchiveFormat } from "./archive-format.js";
import { type ManifestHead, type ManifestTotals, MANIFEST_FORMAT, MANIFEST_NAME, MANIFEST_VERSION, ManifestBuilder, modeText } from "./archive-manifest.js";
import { type ArchiveWriter, archiveWriter, type ByteSink, type ExportEntry } from "./export-writer.js";

/**
 * `export`: a snapshot, or a part of it, as a self-contained ZIP or tar archive that anyone can
 * open, with `manifest.json` (sizes and SHA-256 of every file) as its last entry. One pass:
 * each blob is read, verified, hashed and written once, so memory stays bounded whatever the
 * size of the files (the file list and, for ZIP, the central directory grow with the number
 * of entries, about 250 bytes each).
 *
 * Archive paths are relative to `base`, the directory above what is exported: exporting
 * /srv/app gives "app/…", a whole snapshot of /srv/app and /etc/app gives "srv/app/…" and
 * "etc/app/…", so extracting never spills files into the current directory and `import`
 * puts them back at their paths. Sockets, devices and FIFOs are left out with a warning.
 */
export interface ExportOptions {
  snapshot: SnapshotWithId;
  /** The part of the snapshot to export (default "/": all of it). */
  path?: string;
  format: ArchiveFormat;
  /** Glob patterns on the snapshot path (below `path` when given), as `restore` takes them. */
  include?: string[];
  exclude?: string[];
  /** Compression level (ZIP 0–9 with 0 = stored; gzip 1–9; zstd 1–19). */
  level?: number;
  /** The host name recorded in the manifest as the exporting host. */
  host?: string;
  /** ZIP64 records everywhere (tests of readers). */
  forceZip64?: boolean;
  progress?: Progress;
  onWarning?: WarningSink;
  signal?: AbortSignal;
}

export interface ExportResult {
  snapshot: string;
  path: string;
  base: string;
  format: ArchiveFormat;
  totals: ManifestTotals;
  /** Size of the archive written. */
  archiveBytes: number;
}

/** Writes the archive to `sink` (which is not closed). */
export async function exportSnapshot(repo: Repository, sink: ByteSink, opts: ExportOptions): Promise<ExportResult> {
  const snap = opts.snapshot;
  const progress = opts.progress ?? silentProgress;
  const lock = await Lock.acquire(repo, { exclusive: false, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) });
  try {
    if (repo.index.files.size === 0) await repo.loadIndex();
    const path = normalizePath(opts.path ?? "/");
    const whole = path === "/";
    const filter = RestoreFilter.create(opts.include ?? [], opts.exclude ?? []);
    const start = whole ? await lookupPath(repo, snap.tree, commonBase(snap.paths)) : await lookupPath(repo, snap.tree, path);
    // The directory archive paths are relative to: the export root's parent, or the common parent of the snapshot's paths.
    const baseBytes = whole ? (start.path === "/" ? Buffer.alloc(0) : start.pathBytes) : start.pathBytes.subarray(0, start.pathBytes.lastIndexOf(0x2f));
    const base = whole ? start.path : parentOf(start.path);
    await refuseNameClash(repo, start, whole);

    const writer = archiveWriter(opts.format, sink, { ...(opts.level !== undefined ? { level: opts.level } : {}), ...(opts.forceZip64 ? { forceZip64: true } : {}) });
    const manifest = new ManifestBuilder();
    const exporter = new Exporter(repo, writer, manifest, baseBytes, progress, opts);
    if (whole && filter.all && snap.summary) exporter.estimate = { files: snap.summary.files_total, bytes: snap.summary.bytes_total };

    // Entries are written in walk order; a directory the filter does not select is written
    // only once something below it is, so the archive holds the directories leading to each file.
    const decisions: FilterDecision[] = [filter.root()];
    const pending: { depth: number; written: boolean; write: () => Promise<void> }[] = [];
    const visit = async (node: TreeNode, pathBytes: Buffer, shown: string, depth: number): Promise<WalkAction> => {
      const isDir = node.type === "dir";
      const rel = whole ? shown : shown.slice(start.path.length);
      const parent = decisions[depth - 1] as FilterDecision;
      const d = depth === 0 ? filter.root() : filter.all ? { selected: true, descend: true, included: false } : filter.decide(rel, isDir, parent);
      decisions[depth] = d;
      decisions.length = depth + 1;
      while (pending.length > 0 && (pending[pending.length - 1]?.depth ?? -1) >= depth) pending.pop();
      const write = () => exporter.entry(node, pathBytes, shown);
      if (!d.selected && !(depth === 0 && filter.all)) {
        if (isDir && d.descend) pending.push({ depth, written: false, write });
        return isDir && !d.descend ? "skip" : undefined;
      }
      for (const p of pending) {
        if (!p.written) {
          await p.write();
          p.written = true;
        }
      }
      await write();
      if (isDir) pending.push({ depth, written: true, write });
      return undefined;
    };
    if (!whole && start.node !== undefined) await visit(start.node, start.pathBytes, start.path, 0);
    if (start.treeId !== undefined) {
      await walkTree(repo, start.treeId, (e) => visit(e.node, e.pathBytes, e.path, e.depth), {
        prefix: start.path,
        prefixBytes: start.path === "/" ? Buffer.alloc(0) : start.pathBytes,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    }

    const created = repo.clock();
    const head: ManifestHead = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      snapshot: {
        id: snap.id,
        time: snap.time,
        hostname: snap.hostname,
        username: snap.username ?? null,
        paths: snap.paths,
        tags: snap.tags,
        kind: snap.kind,
        label: snap.label ?? null,
        description: snap.description ?? null,
      },
      program: PROGRAM,
      host: opts.host ?? osHostname(),
      created: created.toISOString(),
      included: { path, base, include: opts.include ?? [], exclude: opts.exclude ?? [] },
    };
    const doc = manifest.encode(head);
    await writer.file({ name: Buffer.from(MANIFEST_NAME), mode: 0o644, mtimeNs: BigInt(created.getTime()) * 1_000_000n, ...owner() }, doc.length, doc);
    const archiveBytes = await writer.finish();
    progress.done();
    return { snapshot: snap.id, path, base, format: opts.format, totals: manifest.totals, archiveBytes };
  } finally {
    progress.done();
    await lock.release();
  }
}

class Exporter {
  #links = new Map<string, { name: Buffer; size: number; sha256: string }>();
  #bytesDone = 0;
  estimate: { files: number; bytes: number } | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly writer: ArchiveWriter,
    private readonly manifest: ManifestBuilder,
    private readonly baseBytes: Buffer,
    private readonly progress: Progress,
    private readonly opts: ExportOptions,
  ) {}

  async entry(node: TreeNode, pathBytes: Buffer, shown: string): Promise<void> {
    const name = pathBytes.subarray(this.baseBytes.length + 1);
    const e: ExportEntry = { name, mode: node.mode & 0o7777, mtimeNs: nsFromIso(node.mtime), uid: node.uid, gid: node.gid };
    if (node.user !== undefined) e.uname = node.user;
    if (node.group !== undefined) e.gname = node.group;
    const totals = this.manifest.totals;
    switch (node.type) {
      case "dir":
        await this.writer.dir(e);
        totals.dirs++;
        return;
      case "symlink":
        await this.writer.symlink(e, linkTargetBytes(node));
        totals.symlinks++;
        return;
      case "file":
        await this.#file(node, e, shown);
        return;
      default:
        totals.skipped++;
        this.opts.onWarning?.({ code: "SKIPPED", message: `${shown} is a ${node.type}, which an archive of files cannot hold; left out`, path: shown });
    }
  }

  async #file(node: TreeNode, e: ExportEntry, shown: string): Promise<void> {
    const key = node.links > 1 ? `${node.device}:${node.inode}` : undefined;
    const first = key !== undefined ? this.#links.get(key) : undefined;
    if (first !== undefined && (await this.writer.hardlink(e, first.name))) {
      this.manifest.totals.hardlinks++;
      this.#record(e, node, first.size, first.sha256, shown);
      return;
    }
    const size = contentSize(this.repo, node, shown);
    const hash = createHash("sha256");
    let written = 0;
    const self = this;
    const body = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const c of chunks) {
        hash.update(c);
        written += c.length;
        yield c;
        self.#advance(c.length, shown);
      }
    };
    await this.writer.file(e, size, body(fileBlobs(this.repo, node, shown, this.opts.signal, "The export was interrupted; the archive is incomplete.")));
    if (written !== size) throw new CofferError("CORRUPT", `${shown}: its blobs hold ${written} bytes, not the ${size} the index says; run "coffer check".`, { path: shown });
    const sha256 = hash.digest("hex");
    if (key !== undefined && first === undefined) this.#links.set(key, { name: Buffer.from(e.name), size, sha256 });
    this.#record(e, node, size, sha256, shown);
  }

  #record(e: ExportEntry, node: TreeNode, size: number, sha256: string, shown: string): void {
    const path = e.name.toString("utf8");
    const raw = Buffer.from(path, "utf8").equals(e.name) ? {} : { path_raw: e.name.toString("base64") };
    this.manifest.addFile({ path, ...raw, size, sha256, mode: modeText(node.mode), mtime: node.mtime });
    // A hard link written as a link adds no content of its own.
    this.#advance(0, shown);
  }

  /** Progress after `bytes` more of content (called per blob, so one large file moves the bar). */
  #advance(bytes: number, shown: string): void {
    this.#bytesDone += bytes;
    const est = this.estimate;
    const filesDone = this.manifest.totals.files;
    this.progress.update({
      phase: "export",
      filesDone,
      bytesDone: this.#bytesDone,
      ...(est ? { filesTotal: Math.max(est.files, filesDone), bytesTotal: Math.max(est.bytes, this.#bytesDone) } : {}),
      current: shown,
    });
  }
}

/** manifest.json is coffer's at the top of the archive; a file of that name there would be taken for it. */
async function refuseNameClash(repo: Repository, start: { path: string; node?: TreeNode; treeId?: string }, whole: boolean): Promise<void> {
  const clash = whole ? start.treeId !== undefined && (await loadTreeNodes(repo, start.treeId)).some((n) => n.name === MANIFEST_NAME) : start.path.endsWith(`/${MANIFEST_NAME}`);
  if (clash) {
    throw new CofferError("INVALID", `The export would hold a file named ${MANIFEST_NAME} at its top level, where coffer puts its own manifest; export the directory above it or below it instead.`);
  }
}

function owner(): { uid?: number; gid?: number } {
  return typeof process.getuid === "function" ? { uid: process.getuid(), gid: process.getgid?.() ?? 0 } : {};
}

/** "/srv/app" from "srv/app/", "/" from "" or "/". */
export function normalizePath(p: string): string {
  const comps = p.split("/").filter((c) => c !== "" && c !== ".");
  if (comps.includes("..")) throw new CofferError("USAGE", `The path "${p}" holds "..", which a snapshot path cannot.`);
  return `/${comps.join("/")}`;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** The deepest directory holding every one of the paths' parents. */
export function commonBase(paths: readonly string[]): string {
  let common: string[] | undefined;
  for (const p of paths) {
    const comps = parentOf(normalizePath(p)).split("/").filter(Boolean);
    if (common === undefined) {
      common = comps;
      continue;
    }
    let i = 0;
    while (i < common.length && i < comps.length && common[i] === comps[i]) i++;
    common = common.slice(0, i);
  }
  return `/${(common ?? []).join("/")}`;
}
