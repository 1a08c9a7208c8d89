/**
 * Checks of a valid configuration against the machine it runs on, for `coffer config validate`:
 * things that are fine to write before they exist, but that a run will need. Warnings, not
 * errors: a password file may be put in place later, a repository created afterwards.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConfigIssue } from "./issues.js";
import type { Env } from "./load.js";
import type { CofferConfig } from "./types.js";

export function checkConfigEnvironment(config: CofferConfig, env: Env = process.env): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const warn = (path: (string | number)[], message: string, hint?: string): void => void out.push({ path, message, ...(hint !== undefined ? { hint } : {}) });
  for (const r of Object.values(config.repositories)) {
    const p = r.password;
    if (p !== undefined && "file" in p && !existsSync(p.file)) warn(["repositories", r.name, "password", "file"], `the password file ${p.file} does not exist yet`, "create it (one line, mode 0600) before the repository is used");
    if (p !== undefined && "env" in p && (env[p.env] === undefined || env[p.env] === "")) warn(["repositories", r.name, "password", "env"], `the environment variable ${p.env} is not set here`, "set it wherever coffer runs (the daemon's service file too)");
    if (p !== undefined && "value" in p) warn(["repositories", r.name, "password", "value"], "the password is written in the configuration in plain text", "anyone who can read this file can read the backups; prefer env, file or command");
    if (r.backend === "local" && !existsSync(join(r.url, "config"))) warn(["repositories", r.name, "url"], `there is no repository at ${r.url} yet`, `create it with: coffer -r ${r.name} init`);
  }
  for (const s of Object.values(config.sources)) {
    const paths = s.kind === "command" ? [] : s.paths;
    paths.forEach((p, i) => {
      if (!existsSync(p)) warn(["sources", s.name, "paths", i], `${p} does not exist`, "a backup of this source fails until it does");
    });
    if (s.kind === "sqlite") {
      s.databases.forEach((p, i) => {
        if (!existsSync(p)) warn(["sources", s.name, "databases", i], `the database ${p} does not exist`, "a backup of this source fails until it does");
      });
    }
  }
  return out;
}
