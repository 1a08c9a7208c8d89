/**
 * Where the configuration file is, without reading it: cheap enough for every command to ask
 * (no YAML parser, no schema loaded). See load.ts for reading it.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export type Env = Readonly<Record<string, string | undefined>>;

export const CONFIG_FILE_NAMES = ["coffer.yaml", "coffer.yml"] as const;

export interface FindOptions {
  /** A file named by the user (`--config`); must exist. */
  file?: string;
  /** Where to look first; default process.cwd(). */
  cwd?: string;
  /** XDG_CONFIG_HOME and HOME; default process.env. */
  env?: Env;
}

/** Where coffer looks for its configuration, in order. */
export function configSearchPath(opts: Pick<FindOptions, "cwd" | "env"> = {}): string[] {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const xdg = env.XDG_CONFIG_HOME;
  const home = env.HOME !== undefined && env.HOME !== "" ? env.HOME : homedir();
  const configHome = xdg !== undefined && xdg.startsWith("/") ? xdg : join(home, ".config");
  return [...CONFIG_FILE_NAMES.map((n) => join(cwd, n)), ...CONFIG_FILE_NAMES.map((n) => join(configHome, "coffer", n))];
}

/** The configuration file that applies, or undefined when there is none. */
export function findConfigFile(opts: FindOptions = {}): string | undefined {
  if (opts.file !== undefined) return resolve(opts.cwd ?? process.cwd(), opts.file);
  return configSearchPath(opts).find((p) => existsSync(p));
}
