import type { EntryStat } from "./entry-stat.js";
import { Gather, type GatherListener } from "./gather.js";
import type { OldDir } from "./old-dir.js";
import type { Listing, ScanEntry } from "./scanner.js";
import type { TreeNode } from "./tree.js";

/**
 * An entry's result identical to its node in the parent snapshot is that very node object:
 * a directory whose every entry is identical keeps the parent's tree as it was, byte for byte,
 * without building, encoding or hashing anything.
 */
export interface Child {
  name: Buffer;
  stat: EntryStat;
  old: TreeNode | undefined;
  /** Symlinks: what readlink returned. */
  target?: Buffer;
}

/** A directory being walked: its listing, the next entry to walk, and what its entries gave. */
export class DirFrame implements GatherListener<TreeNode | undefined> {
  next = 0;
  readonly children: Child[] = [];
  readonly results = new Gather<TreeNode | undefined>();
  /** Where the directory's node goes: place `slot` of its parent's Gather (set when pushed). */
  to = NOWHERE;
  slot = 0;

  constructor(
    readonly h: { gathered(f: DirFrame, nodes: (TreeNode | undefined)[]): void },
    readonly name: Buffer,
    readonly stat: EntryStat,
    readonly old: TreeNode | undefined,
    readonly listing: Listing,
    readonly parentSub: OldDir | undefined,
    /** Names of the directory's entries when one may be a live SQLite database's WAL. */
    readonly siblings: Set<string> | undefined,
  ) {}

  gathered(nodes: (TreeNode | undefined)[]): void {
    try {
      this.h.gathered(this, nodes);
    } catch (err) {
      this.to.fail(err);
    }
  }

  failed(err: unknown): void {
    this.to.fail(err);
  }
}

const NOWHERE = new Gather<TreeNode | undefined>();

export function newFrame(h: DirFrame["h"], name: Buffer, stat: EntryStat, old: TreeNode | undefined, listing: Listing, parentSub: OldDir | undefined): DirFrame {
  const siblings = hasWalFile(listing.entries) ? new Set(listing.entries.map((e) => e.name.toString())) : undefined;
  return new DirFrame(h, name, stat, old, listing, parentSub, siblings);
}

const WAL = Buffer.from("-wal");

/** Whether any name ends in "-wal" (then the names are needed to spot live SQLite databases). */
function hasWalFile(entries: readonly ScanEntry[]): boolean {
  for (const e of entries) {
    const n = e.name;
    if (n.length > 4 && n[n.length - 4] === 0x2d && n.subarray(n.length - 4).equals(WAL)) return true;
  }
  return false;
}
