/**
 * The configuration as the CLI sees it: the file `--config` (or COFFER_CONFIG) names, else the
 * one found in the current folder or in $XDG_CONFIG_HOME/coffer/; and the repository a command
 * uses. `-r NAME` where NAME is a repository of the configuration means its url and password
 * source; without -r, the configuration's default repository (the one marked default, or the
 * only one); with neither, coffer's own default repository.
 *
 * The YAML parser and the schema are loaded only when a configuration is read: every command
 * starts without them (they cost more than the rest of the CLI's start-up).
 */
import { findConfigFile } from "../config/find.js";
import type { CofferConfig, PasswordSource, SourceConfig } from "../config/types.js";
import { CofferError } from "../core/errors.js";
import { defaultRepoLocation, type Env } from "./password.js";

export interface ConfiguredRepository {
  location: string;
  isDefault: boolean;
  /** The repository's name in the configuration, when it came from there. */
  name?: string;
  /** Its password source; flags (--password-file, --password-command) still win. */
  passwordSource?: PasswordSource;
}

/** The repository chosen, or why it could not be (thrown when a command asks for it). */
export type RepositoryResolution = { repository: ConfiguredRepository } | { error: unknown };

interface ConfigOptions {
  repo: string | undefined;
  config: string | undefined;
}

/** A value of -r that can be a repository's name: no slash, no colon. */
const BARE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** -r as given, or coffer's default repository: what applies without a configuration. */
export function plainRepository(opts: ConfigOptions, env: Env): ConfiguredRepository {
  return opts.repo !== undefined ? { location: opts.repo, isDefault: false } : { location: defaultRepoLocation(env), isDefault: true };
}

/**
 * The repository of a command. A configuration is read only when it can matter: -r is a bare
 * name, or no repository was named. A bare name that the configuration does not define is a
 * path, as in restic (write ./NAME to be explicit). Never throws: a configuration that cannot
 * be read fails the command only if it uses a repository (`config validate` must still run).
 */
export async function resolveRepository(opts: ConfigOptions, env: Env, cwd = process.cwd()): Promise<RepositoryResolution> {
  try {
    const given = opts.repo;
    if (given !== undefined && !BARE_NAME.test(given)) return { repository: plainRepository(opts, env) };
    const file = findConfigFile({ ...(opts.config !== undefined ? { file: opts.config } : {}), cwd, env });
    if (file === undefined) return { repository: plainRepository(opts, env) };
    const { loadConfig } = await import("../config/load.js");
    const config = await loadConfig({ file, cwd, env });
    const name = given ?? config.defaultRepository;
    const repo = name !== undefined ? config.repositories[name] : undefined;
    if (repo === undefined) return { repository: plainRepository(opts, env) };
    return { repository: { location: repo.url, isDefault: false, name: repo.name, ...(repo.password ? { passwordSource: repo.password } : {}) } };
  } catch (error) {
    return { error };
  }
}

/** The configuration a command needs (`backup --source`, `rotate`, `daemon`); NOT_FOUND when there is none. */
export async function loadCliConfig(ctx: { options: { config: string | undefined }; env: Env }): Promise<CofferConfig> {
  const { loadConfig } = await import("../config/load.js");
  return loadConfig({ ...(ctx.options.config !== undefined ? { file: ctx.options.config } : {}), env: ctx.env });
}

/** The configuration file that applies, if any (without reading it). */
export function cliConfigFile(ctx: { options: { config: string | undefined }; env: Env }): string | undefined {
  return findConfigFile({ ...(ctx.options.config !== undefined ? { file: ctx.options.config } : {}), env: ctx.env });
}

/**
 * The source `backup --source NAME` runs, checked against the command line: no paths beside
 * it, and a repository named when the configuration has several and none is the default.
 */
export async function configuredSource(
  ctx: { options: { config: string | undefined }; env: Env; repository: { isDefault: boolean } },
  name: string,
  paths: string[],
): Promise<SourceConfig> {
  if (paths.length > 0) throw new CofferError("USAGE", `Give paths or --source, not both: the source ${name} names what it backs up.`);
  const config = await loadCliConfig(ctx);
  const source = config.sources[name];
  const names = Object.keys(config.sources);
  if (source === undefined) {
    throw new CofferError("NOT_FOUND", `${config.file ?? "The configuration"} has no source named ${name}; ${names.length > 0 ? `its sources are ${names.join(", ")}` : "add one under sources:"}.`, { source: name });
  }
  const repos = Object.keys(config.repositories);
  if (ctx.repository.isDefault && repos.length > 0) {
    throw new CofferError("USAGE", `${config.file ?? "The configuration"} has several repositories (${repos.join(", ")}) and none is marked default; name one with -r NAME.`);
  }
  return source;
}
