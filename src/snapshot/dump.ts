import type { WarningSink } from "../core/warning.js";
import type { Repository } from "../repository/repository.js";
import { contentSize, fileBlobs } from "./file-content.js";
import { type TarEntry, type TarEntryType, type TarSink, TarWriter } from "./tar-writer.js";
import { linkTargetBytes, nsFromIso, type TreeNode } from "./tree.js";
import { lookupPath, walkTree } from "./walker.js";

/**
 * `dump`: a file of a snapshot as its bytes, or a directory as a tar stream, written to a
 * sink blob by blob so memory stays bounded whatever the size. Tar entry names are the
 * snapshot paths without the leading "/" ("srv/data/a.txt"), as restic writes them; a file
 * hard-linked inside the dumped directory is stored once and linked after that.
 */
export type ByteSink = TarSink;

export interface DumpOptions {
  signal?: AbortSignal;
  /** Entries a tar cannot hold (sockets) are left out with a warning. */
  onWarning?: WarningSink;
}

export interface DumpResult {
  /** "file" when the path is a file and its bytes were written; "tar" for a directory. */
  format: "file" | "tar";
  /** Entries written (1 for a file). */
  entries: number;
  /** Bytes of file content written (not counting tar headers). */
  bytes: number;
}

/** Dumps `path` of the snapshot whose root tree is `rootTree`: a file's bytes, anything else as tar. */
export async function dump(repo: Repository, rootTree: string, path: string, sink: ByteSink, opts: DumpOptions = {}): Promise<DumpResult> {
  if (repo.index.files.size === 0) await repo.loadIndex();
  const found = await lookupPath(repo, rootTree, path);
  if (found.node?.type === "file") {
    const bytes = await writeFileContent(repo, found.node, sink, opts.signal, found.path);
    return { format: "file", entries: 1, bytes };
  }
  return dumpTar(repo, rootTree, path, sink, opts);
}

/** Writes the content of a file node to the sink; returns the bytes written. */
export async function writeFileContent(repo: Repository, node: TreeNode, sink: ByteSink, signal?: AbortSignal, path = node.name): Promise<number> {
  let bytes = 0;
  for await (const blob of fileBlobs(repo, node, path, signal, "The dump was interrupted.")) {
    bytes += blob.length;
    await sink.write(blob);
  }
  return bytes;
}

/** Writes `path` (a directory, or "/" for the whole snapshot) and everything below it as a tar stream. */
export async function dumpTar(repo: Repository, rootTree: string, path: string, sink: ByteSink, opts: DumpOptions = {}): Promise<DumpResult> {
  if (repo.index.files.size === 0) await repo.loadIndex();
  const found = await lookupPath(repo, rootTree, path);
  const tar = new TarWriter(sink);
  const result: DumpResult = { format: "tar", entries: 0, bytes: 0 };
  const links = new Map<string, Buffer>();
  const write = async (node: TreeNode, pathBytes: Buffer, shown: string): Promise<void> => {
    const name = pathBytes.subarray(pathBytes[0] === 0x2f ? 1 : 0);
    const type = tarType(node);
    if (type === undefined) {
      opts.onWarning?.({ code: "SKIPPED", message: `${shown} is a ${node.type}, which a tar archive cannot hold; left out`, path: shown });
      return;
    }
    const entry = tarEntry(node, name, type);
    if (type === "file" && node.links > 1) {
      const key = `${node.device}:${node.inode}`;
      const first = links.get(key);
      if (first !== undefined) {
        await tar.add({ ...entry, type: "hardlink", linkname: first, size: 0 });
        result.entries++;
        return;
      }
      links.set(key, name);
    }
    if (type === "file") {
      entry.size = contentSize(repo, node, shown);
      await tar.add(entry);
      result.bytes += await writeFileContent(repo, node, { write: (c) => tar.write(c) }, opts.signal, shown);
    } else {
      await tar.add(entry);
    }
    result.entries++;
  };
  if (found.node !== undefined) await write(found.node, found.pathBytes, found.path);
  if (found.treeId !== undefined) {
    await walkTree(repo, found.treeId, (e) => write(e.node, e.pathBytes, e.path), {
      prefix: found.path,
      prefixBytes: found.pathBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }
  await tar.finish();
  return result;
}

function tarType(node: TreeNode): TarEntryType | undefined {
  switch (node.type) {
    case "file":
      return "file";
    case "dir":
      return "dir";
    case "symlink":
      return "symlink";
    case "dev":
      return "blockdev";
    case "chardev":
      return "chardev";
    case "fifo":
      return "fifo";
    default:
      return undefined;
  }
}

function tarEntry(node: TreeNode, name: Buffer, type: TarEntryType): TarEntry {
  const e: TarEntry = { path: name, type, mode: node.mode & 0o7777, uid: node.uid, gid: node.gid, mtimeNs: nsFromIso(node.mtime) };
  if (node.user !== undefined) e.uname = node.user;
  if (node.group !== undefined) e.gname = node.group;
  if (type === "symlink") e.linkname = linkTargetBytes(node);
  if ((type === "blockdev" || type === "chardev") && node.rdev !== undefined) {
    const { major, minor } = splitDev(BigInt(node.rdev));
    e.devmajor = major;
    e.devminor = minor;
  }
  return e;
}

/** Linux's encoding of dev_t (glibc gnu_dev_major/minor). */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { major, minor };
}
