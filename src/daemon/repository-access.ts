/**
 * Opening a configured repository without anyone at a terminal: its password comes from its
 * own source in the configuration, else from COFFER_PASSWORD_COMMAND, COFFER_PASSWORD_FILE or
 * COFFER_PASSWORD (in that order, as for the CLI), asked for only when the repository is
 * encrypted. A missing repository is an error that says how to create it; the daemon never
 * creates one by itself.
 */
import { openBackend, wrapBackend } from "../backend/open.js";
import { resolvePasswordSource } from "../config/password.js";
import type { PasswordSource, RepositoryConfig } from "../config/types.js";
import type { Clock } from "../core/clock.js";
import { CofferError, isCofferError } from "../core/errors.js";
import type { WarningSink } from "../core/warning.js";
import { defaultCacheRoot } from "../repository/local-cache.js";
import { Repository } from "../repository/repository.js";
import type { Env } from "./state.js";

export interface OpenRepositoryOptions {
  env: Env;
  signal?: AbortSignal;
  clock?: Clock;
  /** Tries of each backend request (default the backend's, 10): a quick probe takes fewer. */
  attempts?: number;
  /** False: read a remote repository without the local cache (COFFER_CACHE_DIR, else $XDG_CACHE_HOME/coffer), as check does. */
  cache?: boolean;
  /** Told of each backend request that failed and is tried again (RETRY warnings). */
  onWarning?: WarningSink;
}

/** The repository's password, resolved now. */
export function repositoryPassword(repo: Pick<RepositoryConfig, "name" | "password">, opts: OpenRepositoryOptions): Promise<string> {
  const where = `repository ${repo.name}`;
  const source = repo.password ?? passwordFromEnv(opts.env);
  if (source === undefined) {
    return Promise.reject(
      new CofferError("NO_PASSWORD", `No password for ${where}: give it a password source in the configuration (password: {file: …}) or set COFFER_PASSWORD_FILE for the daemon.`, { repository: repo.name }),
    );
  }
  return resolvePasswordSource(source, { env: opts.env, where, ...(opts.signal ? { signal: opts.signal } : {}) });
}

export async function openRepository(repo: RepositoryConfig, opts: OpenRepositoryOptions): Promise<Repository> {
  const backend = wrapBackend(openBackend(repo.url), {
    ...(opts.attempts !== undefined ? { retry: { attempts: opts.attempts } } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  try {
    const cache = opts.cache === false ? undefined : { dir: opts.env.COFFER_CACHE_DIR || defaultCacheRoot(opts.env) };
    return await Repository.open(backend, { password: () => repositoryPassword(repo, opts), cache, ...(opts.clock ? { clock: opts.clock } : {}) });
  } catch (err) {
    await backend.close().catch(() => undefined);
    if (isCofferError(err, "REPO_MISSING")) {
      throw new CofferError("REPO_MISSING", `There is no repository ${repo.name} at ${repo.url}; create it with: coffer -r ${repo.name} init`, { repository: repo.name }, { cause: err });
    }
    throw err;
  }
}

function passwordFromEnv(env: Env): PasswordSource | undefined {
  const set = (v: string | undefined): v is string => v !== undefined && v !== "";
  if (set(env.COFFER_PASSWORD_COMMAND)) return { command: env.COFFER_PASSWORD_COMMAND };
  if (set(env.COFFER_PASSWORD_FILE)) return { file: env.COFFER_PASSWORD_FILE };
  if (set(env.COFFER_PASSWORD)) return { value: env.COFFER_PASSWORD };
  return undefined;
}
