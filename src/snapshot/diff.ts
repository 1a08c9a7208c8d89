import { CofferError } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import { compareNames, nameBytes, type TreeNode } from "./tree.js";
import { loadTreeNodes, walkTree } from "./walker.js";

/**
 * The differences between two snapshot trees, as restic's `diff` reports them:
 *
 * - `added` / `removed`: the path is only in the second / only in the first tree (everything
 *   below an added or removed directory is listed too);
 * - `type`: the path is a different kind of thing (a file became a symlink or a directory);
 *   what lies below a directory on either side is listed as added or removed;
 * - `modified`: same type, different content (a file's blob list, a symlink's target, a
 *   device number);
 * - `metadata`: same content, different mode, mtime, owner (uid, gid, user, group) or
 *   extended attributes. ctime, inode and device are not compared: they change whenever a
 *   file is copied or restored, and say nothing about the file.
 *
 * Subtrees with the same id are identical (ids are content hashes) and are not opened, so a
 * diff of two snapshots costs what changed between them, not their size. For the same reason
 * `bytesAdded`/`bytesRemoved` count the data blobs of the changed parts only: a blob a new
 * file shares with an unchanged directory counts as added.
 */
export type ChangeKind = "added" | "removed" | "modified" | "type" | "metadata";

export interface TreeChange {
  /** "/tmp/foo/bar" (POSIX, absolute within the snapshot). */
  path: string;
  pathBytes: Buffer;
  change: ChangeKind;
  /** The node in the first tree (all but `added`). */
  before?: TreeNode;
  /** The node in the second tree (all but `removed`). */
  after?: TreeNode;
}

export interface DiffTotals {
  filesAdded: number;
  filesRemoved: number;
  /** Files whose content changed. */
  filesModified: number;
  dirsAdded: number;
  dirsRemoved: number;
  /** Symlinks, devices, fifos and sockets. */
  othersAdded: number;
  othersRemoved: number;
  /** Symlinks and devices whose target or device number changed. */
  othersModified: number;
  typeChanged: number;
  metadataChanged: number;
  /** Distinct data blobs the changed parts of the second tree have and those of the first do not. */
  blobsAdded: number;
  blobsRemoved: number;
  /** Plain (uncompressed) bytes of those blobs. */
  bytesAdded: number;
  bytesRemoved: number;
}

export interface DiffResult {
  /** In walk order (path order); empty when `onChange` was given. */
  changes: TreeChange[];
  totals: DiffTotals;
}

export interface DiffOptions {
  /** Receives each change as it is found, instead of collecting them in `changes`. */
  onChange?: (c: TreeChange) => void;
  signal?: AbortSignal;
}

/** What diffing needs of a repository: trees, and blob sizes from the index. */
export type DiffRepo = Pick<Repository, "loadBlob" | "index">;

/** Compares the trees `treeA` (before) and `treeB` (after), both hex tree ids. */
export async function diffTrees(repo: DiffRepo, treeA: string, treeB: string, opts: DiffOptions = {}): Promise<DiffResult> {
  const d = new Differ(repo, opts);
  if (treeA !== treeB) await d.dir(treeA, treeB, "", Buffer.alloc(0));
  return { changes: d.changes, totals: d.totals() };
}

/** Whether two nodes of the same type hold different content. */
export function contentDiffers(a: TreeNode, b: TreeNode): boolean {
  switch (a.type) {
    case "file":
      return a.size !== b.size || !sameList(a.content ?? [], b.content ?? []);
    case "symlink":
      return a.linktarget !== b.linktarget || a.linktarget_raw !== b.linktarget_raw;
    case "dev":
    case "chardev":
      return a.rdev !== b.rdev;
    default:
      return false;
  }
}

/** Whether mode, mtime, owner or extended attributes differ. */
export function metadataDiffers(a: TreeNode, b: TreeNode): boolean {
  return (
    a.mode !== b.mode ||
    a.mtime !== b.mtime ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    (a.user ?? "") !== (b.user ?? "") ||
    (a.group ?? "") !== (b.group ?? "") ||
    JSON.stringify(a.xattrs ?? []) !== JSON.stringify(b.xattrs ?? [])
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const SLASH = Buffer.from("/");

class Differ {
  readonly changes: TreeChange[] = [];
  readonly #counts = { filesAdded: 0, filesRemoved: 0, filesModified: 0, dirsAdded: 0, dirsRemoved: 0, othersAdded: 0, othersRemoved: 0, othersModified: 0, typeChanged: 0, metadataChanged: 0 };
  readonly #blobsBefore = new Set<string>();
  readonly #blobsAfter = new Set<string>();

  constructor(
    private readonly repo: DiffRepo,
    private readonly opts: DiffOptions,
  ) {}

  totals(): DiffTotals {
    let blobsAdded = 0;
    let bytesAdded = 0;
    let blobsRemoved = 0;
    let bytesRemoved = 0;
    for (const id of this.#blobsAfter) {
      if (this.#blobsBefore.has(id)) continue;
      blobsAdded++;
      bytesAdded += this.#rawSize(id);
    }
    for (const id of this.#blobsBefore) {
      if (this.#blobsAfter.has(id)) continue;
      blobsRemoved++;
      bytesRemoved += this.#rawSize(id);
    }
    return { ...this.#counts, blobsAdded, blobsRemoved, bytesAdded, bytesRemoved };
  }

  #rawSize(id: string): number {
    return this.repo.index.lookup(Buffer.from(id, "hex"))?.rawLength ?? 0;
  }

  #emit(c: TreeChange): void {
    if (this.opts.onChange) this.opts.onChange(c);
    else this.changes.push(c);
  }

  async dir(a: string, b: string, path: string, pathBytes: Buffer): Promise<void> {
    if (this.opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The diff was interrupted.");
    const [na, nb] = await Promise.all([loadTreeNodes(this.repo, a), loadTreeNodes(this.repo, b)]);
    let i = 0;
    let j = 0;
    while (i < na.length || j < nb.length) {
      const x = na[i];
      const y = nb[j];
      const cmp = x === undefined ? 1 : y === undefined ? -1 : compareNames(x, y);
      const node = (cmp <= 0 ? x : y) as TreeNode;
      const childPath = `${path}/${node.name}`;
      const childBytes = Buffer.concat([pathBytes, SLASH, nameBytes(node)]);
      if (cmp < 0) {
        await this.#side("removed", x as TreeNode, childPath, childBytes);
        i++;
      } else if (cmp > 0) {
        await this.#side("added", y as TreeNode, childPath, childBytes);
        j++;
      } else {
        await this.#pair(x as TreeNode, y as TreeNode, childPath, childBytes);
        i++;
        j++;
      }
    }
  }

  async #pair(x: TreeNode, y: TreeNode, path: string, pathBytes: Buffer): Promise<void> {
    if (x.type !== y.type) {
      this.#counts.typeChanged++;
      this.#emit({ path, pathBytes, change: "type", before: x, after: y });
      this.#blobs(x, this.#blobsBefore);
      this.#blobs(y, this.#blobsAfter);
      if (x.type === "dir") await this.#below("removed", x, path, pathBytes);
      if (y.type === "dir") await this.#below("added", y, path, pathBytes);
      return;
    }
    if (x.type === "dir") {
      if (metadataDiffers(x, y)) {
        this.#counts.metadataChanged++;
        this.#emit({ path, pathBytes, change: "metadata", before: x, after: y });
      }
      if (x.subtree !== y.subtree) {
        if (x.subtree === undefined) await this.#below("added", y, path, pathBytes);
        else if (y.subtree === undefined) await this.#below("removed", x, path, pathBytes);
        else await this.dir(x.subtree, y.subtree, path, pathBytes);
      }
      return;
    }
    if (contentDiffers(x, y)) {
      if (x.type === "file") this.#counts.filesModified++;
      else this.#counts.othersModified++;
      this.#emit({ path, pathBytes, change: "modified", before: x, after: y });
      this.#blobs(x, this.#blobsBefore);
      this.#blobs(y, this.#blobsAfter);
    } else if (metadataDiffers(x, y)) {
      this.#counts.metadataChanged++;
      this.#emit({ path, pathBytes, change: "metadata", before: x, after: y });
    }
  }

  /** A node only one side has, and everything below it. */
  async #side(change: "added" | "removed", node: TreeNode, path: string, pathBytes: Buffer): Promise<void> {
    this.#one(change, node, path, pathBytes);
    if (node.type === "dir") await this.#below(change, node, path, pathBytes);
  }

  async #below(change: "added" | "removed", dir: TreeNode, path: string, pathBytes: Buffer): Promise<void> {
    if (dir.subtree === undefined) return;
    await walkTree(this.repo, dir.subtree, (e) => this.#one(change, e.node, e.path, e.pathBytes), {
      prefix: path,
      prefixBytes: pathBytes,
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
    });
  }

  #one(change: "added" | "removed", node: TreeNode, path: string, pathBytes: Buffer): void {
    const added = change === "added";
    const c = this.#counts;
    if (node.type === "file") added ? c.filesAdded++ : c.filesRemoved++;
    else if (node.type === "dir") added ? c.dirsAdded++ : c.dirsRemoved++;
    else added ? c.othersAdded++ : c.othersRemoved++;
    this.#blobs(node, added ? this.#blobsAfter : this.#blobsBefore);
    this.#emit(added ? { path, pathBytes, change, after: node } : { path, pathBytes, change, before: node });
  }

  #blobs(node: TreeNode, into: Set<string>): void {
    if (node.type === "file") for (const id of node.content ?? []) into.add(id);
  }
}
