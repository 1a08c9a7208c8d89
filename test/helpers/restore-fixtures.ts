import { MemoryBackend } from "../../src/backend/memory.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { PackSaver } from "../../src/repository/pack-saver.js";
import { Repository, type InitOptions } from "../../src/repository/repository.js";
import type { Backend } from "../../src/backend/backend.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { saveSnapshot } from "../../src/snapshot/snapshot-store.js";
import { encodeName, encodeTree, type TreeNode } from "../../src/snapshot/tree.js";

/** A new encrypted repository with cheap key derivation. */
export function testRepo(backend: Backend = new MemoryBackend(), opts: InitOptions = {}): Promise<Repository> {
  return Repository.init(backend, { password: "pw", kdf: TEST_KDF, ...opts });
}

/** A hand-made tree entry, for snapshots no backup would write (hostile ones included). */
export type Spec =
  | { name: string | Buffer; type: "file"; data: string | Buffer; mode?: number }
  | { name: string | Buffer; type: "dir"; children: Spec[]; mode?: number }
  | { name: string | Buffer; type: "symlink"; target: string };

const MTIME = "2024-01-02T03:04:05.123456789Z";

/**
 * Writes the blobs of a tree as given (no sorting, no checks: duplicate and unsafe names go in
 * as they are) and a snapshot of it.
 */
export async function craftSnapshot(repo: Repository, specs: Spec[]): Promise<SnapshotWithId> {
  const saver = new PackSaver(repo);
  let inode = 1000;
  const build = async (list: Spec[]): Promise<string> => {
    const nodes: TreeNode[] = [];
    for (const s of list) {
      const raw = typeof s.name === "string" ? Buffer.from(s.name) : s.name;
      const base = { ...encodeName(raw), uid: 0, gid: 0, mtime: MTIME, ctime: MTIME, inode: String(inode++), device: "1", links: 1 };
      if (s.type === "file") {
        const data = Buffer.from(s.data);
        const id = await saver.addBlob("data", data);
        nodes.push({ ...base, type: "file", mode: s.mode ?? 0o644, size: data.length, content: data.length ? [id.toString("hex")] : [] });
      } else if (s.type === "dir") {
        nodes.push({ ...base, type: "dir", mode: s.mode ?? 0o755, size: 0, subtree: await build(s.children) });
      } else {
        nodes.push({ ...base, type: "symlink", mode: 0o777, size: s.target.length, linktarget: s.target });
      }
    }
    return (await saver.addBlob("tree", encodeTree({ nodes }))).toString("hex");
  };
  const tree = await build(specs);
  await saver.flush();
  const snap = { time: new Date().toISOString(), hostname: "test", username: "test", paths: ["/"], tree, tags: [], kind: "manual" as const, program: "test" };
  return { ...snap, id: await saveSnapshot(repo, snap) };
}
