import type { Backend } from "../backend/backend.js";
import { openBackend, wrapBackend } from "../backend/open.js";
import { CofferError, isCofferError } from "../core/errors.js";
import { DEFAULT_KDF, type KdfParams, TEST_KDF } from "../crypto/kdf.js";
import { defaultCacheRoot, type LocalCacheOptions } from "../repository/local-cache.js";
import { Repository } from "../repository/repository.js";
import type { Context } from "./context.js";
import { printInfo, printVerbose } from "./output.js";

/**
 * Opens the repository a command names (or the default one), asking for the password only
 * when it is encrypted and trying again on a terminal after a wrong one. With `create`, the
 * default repository is created on first use (no prompt: a generated password file).
 * A remote repository is read through the local cache unless `cache` is false (check reads
 * the repository itself) or the user said --no-cache.
 */
export async function openRepo(ctx: Context, opts: { create?: boolean; loadIndex?: boolean; cache?: boolean } = {}): Promise<Repository> {
  const backend = openCliBackend(ctx, ctx.repository.location);
  let repo: Repository;
  try {
    repo = await openWithRetries(ctx, backend, opts.cache === false ? undefined : cacheOptions(ctx));
  } catch (err) {
    if (isCofferError(err, "REPO_MISSING") && opts.create && ctx.repository.isDefault) {
      const password = await ctx.password({ createDefault: true });
      repo = await Repository.init(backend, { password, kdf: kdfParams(ctx), clock: ctx.clock });
      printInfo(ctx, `created the default repository at ${backend.location}`);
    } else {
      await backend.close().catch(() => undefined);
      if (isCofferError(err, "REPO_MISSING") && ctx.repository.isDefault) {
        throw new CofferError("REPO_MISSING", `There is no default repository yet (${backend.location}); "coffer backup DIR" creates it, or name one with -r.`);
      }
      throw err;
    }
  }
  if (opts.loadIndex) {
    try {
      await repo.loadIndex();
    } catch (err) {
      // The command's own close never runs: an SFTP connection or an rclone child left open
      // would keep the process from exiting.
      await repo.close().catch(() => undefined);
      throw err;
    }
  }
  return repo;
}

/** The wrapped driver for `location`, whose retried requests are the run's warnings (`ctx.warn`). */
export function openCliBackend(ctx: Context, location: string): Backend {
  return wrapBackend(openBackend(location), { onWarning: (w) => ctx.warn(w) });
}

/** Where the local cache of remote repositories is (--cache-dir, COFFER_CACHE_DIR); undefined with --no-cache. */
export function cacheOptions(ctx: Context): LocalCacheOptions | undefined {
  if (!ctx.options.cache) return undefined;
  // A cache problem costs only speed: said with -v or --debug, never as a warning.
  const onProblem = (m: string): void => (ctx.options.debug ? ctx.stderr.write(`cache: ${m}\n`) : printVerbose(ctx, `cache: ${m}`));
  return { dir: ctx.options.cacheDir ?? defaultCacheRoot(ctx.env), onProblem };
}

async function openWithRetries(ctx: Context, backend: Backend, cache: LocalCacheOptions | undefined): Promise<Repository> {
  let password: string | undefined;
  const ask = async (): Promise<string> => (password = await ctx.password());
  try {
    return await Repository.open(backend, { password: ask, clock: ctx.clock, cache });
  } catch (err) {
    if (!isCofferError(err, "WRONG_PASSWORD") || password === undefined) throw err;
    for (;;) {
      const again = await ctx.passwordRetry();
      if (again === undefined) throw err;
      try {
        return await Repository.open(backend, { password: again, clock: ctx.clock, cache });
      } catch (e) {
        if (!isCofferError(e, "WRONG_PASSWORD")) throw e;
      }
    }
  }
}

/** scrypt parameters for new keys; COFFER_TEST_KDF=1 makes them cheap for test suites. */
export function kdfParams(ctx: Pick<Context, "env">): KdfParams {
  return ctx.env.COFFER_TEST_KDF === "1" ? TEST_KDF : DEFAULT_KDF;
}
