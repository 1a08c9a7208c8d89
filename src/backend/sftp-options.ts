import { homedir } from "node:os";
import { join } from "node:path";
import { CofferError } from "../core/errors.js";
import type { SftpOptions } from "./sftp.js";
import { sshHostConfig } from "./ssh-config.js";
import { localUser, parseSftpUrl, sftpOptionsFromEnv } from "./sftp-url.js";

/**
 * Everything the SFTP driver needs for `url`: the URL, then the COFFER_SFTP_* variables, then
 * what the OpenSSH client config (~/.ssh/config, or COFFER_SSH_CONFIG; `none` reads nothing)
 * says for the host the URL names, then the defaults. So `sftp:nas:/srv/coffer` connects where
 * `ssh nas` would: HostName, User, Port, IdentityFile (tried before ~/.ssh/id_*),
 * IdentitiesOnly (then neither the agent nor ~/.ssh/id_* is used) and UserKnownHostsFile.
 * The location stays as the URL writes it.
 */
export function sftpOptions(url: string, env: Record<string, string | undefined>): SftpOptions {
  const loc = parseSftpUrl(url);
  const base = sftpOptionsFromEnv(env);
  const home = env["HOME"] || homedir();
  const out: SftpOptions = { ...base, ...loc, home };
  const setting = env["COFFER_SSH_CONFIG"];
  if (setting === "none") return out;
  const file = setting ? (setting.startsWith("~/") ? join(home, setting.slice(2)) : setting) : join(home, ".ssh", "config");
  const shown = (p: string): string => (p.startsWith(`${home}/`) ? `~/${p.slice(home.length + 1)}` : p);
  const envUser = env["COFFER_SFTP_USER"] || undefined;
  const user = loc.user ?? envUser;
  const port = loc.port ?? base.defaultPort;
  const cfg = sshHostConfig(loc.host, { file, home, localUser: envUser === undefined ? base.defaultUser : localUser(env), ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}), shown });
  if (cfg.proxy) {
    const { keyword, line } = cfg.proxy;
    throw new CofferError(
      "UNSUPPORTED",
      `The SSH config file ${shown(cfg.proxy.file)} line ${line} sends ${loc.host} through a ${keyword}, which coffer cannot follow (it connects straight to the server); use a URL with a host coffer can reach directly, or set COFFER_SSH_CONFIG=none to ignore the file.`,
      { file: cfg.proxy.file, line, permanent: true },
    );
  }
  const applied = cfg.hostName !== undefined || cfg.user !== undefined || cfg.port !== undefined || cfg.identityFiles.length > 0 || cfg.identitiesOnly !== undefined || cfg.userKnownHostsFiles !== undefined;
  if (!applied) return out;
  out.sshConfig = shown(file);
  if (cfg.hostName !== undefined && cfg.hostName !== loc.host) out.hostName = cfg.hostName;
  if (envUser === undefined && cfg.user !== undefined) out.defaultUser = cfg.user;
  if (base.defaultPort === undefined && cfg.port !== undefined) out.defaultPort = cfg.port;
  if (!base.explicitKey) {
    // As in ssh, IdentitiesOnly without an IdentityFile still means the default key files.
    const defaults = cfg.identitiesOnly && cfg.identityFiles.length > 0 ? [] : base.identityFiles;
    out.identityFiles = [...new Set([...cfg.identityFiles, ...defaults])];
    if (cfg.identitiesOnly) delete out.agent;
  }
  if (!env["COFFER_SFTP_KNOWN_HOSTS"] && cfg.userKnownHostsFiles !== undefined) {
    out.knownHostsFiles = [...cfg.userKnownHostsFiles, "/etc/ssh/ssh_known_hosts"];
  }
  return out;
}
