import { CofferError } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import type { KdfParams } from "../crypto/kdf.js";
import { parseKeyFile } from "../crypto/keyfile.js";
import { Lock } from "./lock.js";
import type { Repository } from "./repository.js";

/**
 * Key management over an open repository: list the key files, remove one, change the
 * password. Adding is `Repository.addKey`. Two rules keep a repository openable: the last key
 * is never removed, and a password change writes the new key before removing the old one.
 * Removal takes an exclusive lock, so no other process is working with the key meanwhile.
 */
export interface KeyInfo {
  id: string;
  created: string;
  hostname: string;
  username: string;
  /** The key this repository was opened with. */
  current: boolean;
  kdf: { N: number; r: number; p: number };
}

export interface KeyLockOptions {
  /** Wait this long for a conflicting lock to go (ms); default 0. */
  lockWaitMs?: number;
  onWarning?: WarningSink;
}

/** Every key file, oldest first. */
export async function listKeys(repo: Repository): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const id of await repo.listIds("key")) {
    let f;
    try {
      f = parseKeyFile(await repo.backend.load({ type: "key", name: id }), id);
    } catch (err) {
      if (repo.backend.isNotFound(err)) continue; // removed meanwhile
      throw err;
    }
    out.push({ id, created: f.created, hostname: f.hostname, username: f.username, current: id === repo.keyId, kdf: { N: f.N, r: f.r, p: f.p } });
  }
  return out.sort((a, b) => Date.parse(a.created) - Date.parse(b.created) || a.id.localeCompare(b.id));
}

/**
 * Removes the key file whose id starts with `prefix`. Refuses the key the repository was
 * opened with (use `changePassword`) and the last key. Returns the full id removed.
 */
export async function removeKey(repo: Repository, prefix: string, opts: KeyLockOptions = {}): Promise<string> {
  requireKeys(repo);
  const id = await repo.resolveId("key", prefix);
  if (id === repo.keyId) {
    throw new CofferError(
      "INVALID",
      `Key ${id.slice(0, 8)} is the one this command opened the repository with; open it with another key's password to remove it, or use "coffer key passwd" to replace it.`,
      { key: id },
    );
  }
  return withExclusiveLock(repo, opts, async () => {
    await removeLocked(repo, id);
    return id;
  });
}

/**
 * Replaces the key the repository was opened with by a new one for `password`: the new key
 * file is written first, then the old one removed. Returns both ids. The `repo` object keeps
 * working (the master key is unchanged); its `keyId` still names the removed key.
 */
export async function changePassword(repo: Repository, password: string, kdf?: KdfParams, opts: KeyLockOptions = {}): Promise<{ added: string; removed: string }> {
  const old = requireKeys(repo);
  return withExclusiveLock(repo, opts, async () => {
    const added = await repo.addKey(password, kdf);
    await removeLocked(repo, old);
    return { added, removed: old };
  });
}

function requireKeys(repo: Repository): string {
  if (repo.keyId === undefined) throw new CofferError("UNSUPPORTED", "This repository is not encrypted, so it has no keys to change.");
  return repo.keyId;
}

async function removeLocked(repo: Repository, id: string): Promise<void> {
  const keys = await repo.listIds("key");
  if (!keys.includes(id)) throw new CofferError("NOT_FOUND", `Key ${id.slice(0, 8)} is gone; another process removed it.`, { key: id });
  if (keys.length <= 1) {
    throw new CofferError("INVALID", `Key ${id.slice(0, 8)} is the repository's last key; without it nothing could open the repository. Add another key first.`, { key: id });
  }
  await repo.backend.remove({ type: "key", name: id });
}

async function withExclusiveLock<T>(repo: Repository, opts: KeyLockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await Lock.acquire(repo, { exclusive: true, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}), ...(opts.lockWaitMs !== undefined ? { waitMs: opts.lockWaitMs } : {}) });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
