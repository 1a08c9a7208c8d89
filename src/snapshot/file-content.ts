import { CofferError } from "../core/errors.js";
import type { Repository } from "../repository/repository.js";
import type { TreeNode } from "./tree.js";

/** Blobs loaded ahead of the one being written. */
const READ_AHEAD = 2;

/**
 * A file's content, blob by blob in order, a few loaded ahead, each verified against its id
 * (`loadBlob`). Errors name the file (`path`); `interrupted` is the message when `signal` fires.
 * What dump and export stream, so memory stays bounded whatever the file's size.
 */
export async function* fileBlobs(repo: Repository, node: TreeNode, path: string, signal: AbortSignal | undefined, interrupted: string): AsyncGenerator<Buffer> {
  const ids = node.content ?? [];
  const loads: (Promise<Buffer> | undefined)[] = [];
  const start = (i: number): void => {
    const id = ids[i];
    if (id === undefined || loads[i] !== undefined) return;
    const p = repo.loadBlob("data", Buffer.from(id, "hex"));
    p.catch(() => undefined); // observed in order below
    loads[i] = p;
  };
  for (let i = 0; i < ids.length; i++) {
    if (signal?.aborted) throw new CofferError("INTERRUPTED", interrupted);
    for (let k = i; k <= i + READ_AHEAD; k++) start(k);
    let blob: Buffer;
    try {
      blob = await (loads[i] as Promise<Buffer>);
    } catch (err) {
      if (err instanceof CofferError) throw new CofferError(err.code, `${path}: ${err.message}`, { ...err.data, path }, { cause: err });
      throw err;
    }
    loads[i] = undefined;
    yield blob;
  }
}

/** The plain size of a file's blobs, from the index: exactly what `fileBlobs` yields. */
export function contentSize(repo: Repository, node: TreeNode, path: string): number {
  let size = 0;
  for (const id of node.content ?? []) {
    const e = repo.index.lookup(Buffer.from(id, "hex"));
    if (e === undefined) throw new CofferError("NOT_FOUND", `${path}: data blob ${id.slice(0, 8)} is not in the index; run "coffer check".`, { path, blob: id });
    size += e.rawLength;
  }
  return size;
}
