import type { Repository } from "../repository/repository.js";
import { OldDir } from "./old-dir.js";

/**
 * The parent snapshot's directories, for the walk of a new backup. A tree that cannot be
 * loaded or decoded comes back undefined: a damaged parent only costs reading files again.
 */
export class ParentTrees {
  constructor(private readonly repo: Repository) {}

  get(id: string): OldDir | undefined | Promise<OldDir | undefined> {
    return this.load(id);
  }

  /** The parent snapshot's root tree; unlike the others, one that cannot be read is an error. */
  async root(id: string): Promise<OldDir> {
    return OldDir.decode(await this.repo.loadBlob("tree", Buffer.from(id, "hex")));
  }

  /** The parent's tree from the repository (the fallback of every faster source). */
  protected async load(id: string): Promise<OldDir | undefined> {
    try {
      return OldDir.decode(await this.repo.loadBlob("tree", Buffer.from(id, "hex")));
    } catch {
      return undefined;
    }
  }

  /** Stops whatever runs in the background. */
  async close(): Promise<void> {}
}
