/**
 * The configuration as the CLI sees it: the file `--config` (or COFFER_CONFIG) names, else the
 * one found in the current folder or in $XDG_CONFIG_HOME/coffer/; and the repository a command
 * uses. `-r NAME` where NAME is a repository of the configuration means its url and password
 * source; without -r, the configuration's default repository (the one marked default, or the
 * only one); with neither, coffer's own default repository.
 */
import { findConfigFile, loadConfig, loadConfigSync } from "../config/load.js";
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

/** A value of -r that can be a repository's name: no slash, no colon. */
const BARE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The repository of a command. A configuration is read only when it can matter: -r is a bare
 * name, or no repository was named. A bare name that the configuration does not define is a
 * path, as in restic (write ./NAME to be explicit).
 */
export function chooseRepository(opts: { repo: string | undefined; config: string | undefined }, env: Env, cwd = process.cwd()): ConfiguredRepository {
  const given = opts.repo;
  const plain = (): ConfiguredRepository => (given !== undefined ? { location: given, isDefault: false } : { location: defaultRepoLocation(env), isDefault: true });
  if (given !== undefined && !BARE_NAME.test(given)) return plain();
  const file = findConfigFile({ ...(opts.config !== undefined ? { file: opts.config } : {}), cwd, env });
  if (file === undefined) return plain();
  const config = loadConfigSync({ file, cwd, env });
  const name = given ?? config.defaultRepository;
  const repo = name !== undefined ? config.repositories[name] : undefined;
  if (repo === undefined) return plain();
  return { location: repo.url, isDefault: false, name: repo.name, ...(repo.password ? { passwordSource: repo.password } : {}) };
}

/** The configuration a command needs (`backup --source`, `rotate`, `config show`); NOT_FOUND when there is none. */
export function loadCliConfig(ctx: { options: { config: string | undefined }; env: Env }): Promise<CofferConfig> {
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
