import type { FileWaiter } from "./archive-pool.js";
import type { FileOutcome } from "./archive-protocol.js";
import type { Gather } from "./gather.js";
import type { TreeNode } from "./tree.js";

/** A file's blob ids (hex) and the size read. */
export interface ReadResult {
  ids: string[];
  size: number;
}

/** Sets what was read on a file's node. */
export function completeNode(node: TreeNode, read: ReadResult): void {
  // The size is what was read (a file that grew while read), so content and size agree.
  // Set on the node itself: `size` keeps its place, `content` comes last, as a copy had them.
  node.size = read.size;
  node.content = read.ids;
}

export interface ReadHandlers {
  done(f: FileRead, o: FileOutcome): void;
  failed(f: FileRead, err: unknown): void;
}

/**
 * A file in the pool's hands, as its FileWaiter. Its node, once read, goes to place `i` of a
 * directory's Gather; a hard link's read settles a promise instead (its links share it).
 */
export class FileRead implements FileWaiter {
  attempt = 0;

  constructor(
    readonly h: ReadHandlers,
    readonly path: Buffer,
    readonly size: number,
    readonly node: TreeNode | undefined,
    /** The parent snapshot had the file (it counts as changed, not new). */
    readonly changed: boolean,
    readonly to: Gather<TreeNode | undefined> | { resolve(r: ReadResult | undefined): void; reject(err: unknown): void },
    readonly i: number,
  ) {}

  resolve(o: FileOutcome): void {
    // Called from the pool's message handler: a failure here belongs to the walk.
    try {
      this.h.done(this, o);
    } catch (err) {
      this.reject(err);
    }
  }

  reject(err: unknown): void {
    this.h.failed(this, err);
  }
}
