import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { isAbsolute, join } from "node:path";
import { CofferError, sysCode } from "../core/errors.js";

/** What an OpenSSH client config says about one host: the few settings coffer uses. */
export interface SshHostConfig {
  /** HostName, `%h` expanded: the host to connect to. */
  hostName?: string;
  user?: string;
  port?: number;
  /** Every IdentityFile, in order, with `~` and ssh's tokens expanded (`none` dropped). */
  identityFiles: string[];
  identitiesOnly?: boolean;
  /** UserKnownHostsFile, expanded; an empty list for `none`. */
  userKnownHostsFiles?: string[];
  /** A ProxyJump or ProxyCommand (other than `none`) that applies: coffer cannot follow it. */
  proxy?: { keyword: "ProxyJump" | "ProxyCommand"; file: string; line: number };
}

export interface SshConfigOptions {
  /** The config file. A missing one (or a missing Include) says nothing. */
  file: string;
  /** The local home: `~`, `%d`, and `~/.ssh`, where relative Include paths start. */
  home: string;
  /** The local login name (`%u`). */
  localUser: string;
  /** The login name chosen above the config (the URL's), which `%r` then is. */
  user?: string;
  /** The port chosen above the config, which `%p` then is. */
  port?: number;
  /** For messages: the file as a person names it (`~/.ssh/config`). Default `file`. */
  shown?: (file: string) => string;
}

interface Value {
  args: string[];
  file: string;
  line: number;
}

/** OpenSSH's limit on nested Include. */
const MAX_DEPTH = 16;
const KEYWORDS = new Set(["hostname", "user", "port", "identityfile", "identitiesonly", "userknownhostsfile", "proxyjump", "proxycommand"]);

/**
 * The settings ssh_config(5) gives `host` (the name as the URL writes it), read as `ssh` reads
 * them: a `Host` line starts a block that applies when one of its patterns (`*`, `?`, compared
 * case-insensitively) matches `host` and no `!pattern` does; the first value found for a
 * keyword wins, except IdentityFile, whose lines add up. `Match all` applies like `Host *`; any
 * other `Match` block is skipped (coffer cannot evaluate it). `Include` reads files (globs,
 * relative to ~/.ssh) in place. Keywords coffer does not use are ignored. A file that cannot be
 * read, a bad quote or a bad value is an INVALID/IO error naming the file and line.
 */
export function sshHostConfig(host: string, opts: SshConfigOptions): SshHostConfig {
  const shown = opts.shown ?? ((f: string) => f);
  const values = new Map<string, Value>();
  const identities: Value[] = [];
  const name = host.toLowerCase();
  const invalid = (at: Pick<Value, "file" | "line">, why: string): CofferError =>
    new CofferError("INVALID", `The SSH config file ${shown(at.file)} line ${at.line} ${why}; fix it, or set COFFER_SSH_CONFIG=none to ignore it.`, { file: at.file, line: at.line });

  const read = (file: string, depth: number, optional: boolean): void => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if (optional && (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR")) return;
      throw new CofferError("IO", `The SSH config file ${shown(file)} cannot be read (${sysCode(err) ?? (err as Error).message}); fix it, or set COFFER_SSH_CONFIG=none to ignore it.`, { file }, { cause: err });
    }
    let active = true;
    text.split(/\r?\n/).forEach((raw, i) => {
      const at = { file, line: i + 1 };
      const bad = (why: string): CofferError => invalid(at, why);
      const parsed = splitLine(raw, bad);
      if (!parsed) return;
      const [keyword, args] = parsed;
      if (keyword === "host") {
        if (args.length === 0) throw bad("has a Host line without a pattern");
        active = hostMatches(args, name);
      } else if (keyword === "match") {
        active = args.length === 1 && args[0]?.toLowerCase() === "all";
      } else if (!active) {
        return;
      } else if (keyword === "include") {
        if (args.length === 0) throw bad("has an Include line without a file");
        if (depth >= MAX_DEPTH) throw bad(`nests Include more than ${MAX_DEPTH} deep`);
        for (const pattern of args) {
          const path = pattern.startsWith("~/") ? join(opts.home, pattern.slice(2)) : isAbsolute(pattern) ? pattern : join(opts.home, ".ssh", pattern);
          for (const f of glob(path)) read(f, depth + 1, true);
        }
      } else if (keyword === "identityfile") {
        if (args.length !== 1) throw bad("needs exactly one file after IdentityFile");
        identities.push({ args, ...at });
      } else if (KEYWORDS.has(keyword) && !values.has(keyword)) {
        if (args.length === 0) throw bad(`has no value after ${keyword}`);
        if (keyword !== "userknownhostsfile" && keyword !== "proxycommand" && args.length > 1) throw bad(`has more than one value after ${keyword}`);
        values.set(keyword, { args, ...at });
      }
    });
  };
  read(opts.file, 0, true);

  const out: SshHostConfig = { identityFiles: [] };
  const one = (keyword: string): Value | undefined => values.get(keyword);
  const hostName = one("hostname");
  if (hostName) out.hostName = expand(hostName, hostName.args[0] as string, { h: host }, invalid);
  const user = one("user");
  if (user) out.user = user.args[0] as string;
  const port = one("port");
  if (port) {
    const p = port.args[0] as string;
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw invalid(port, `sets Port ${JSON.stringify(p)}, not a number from 1 to 65535`);
    out.port = Number(p);
  }
  const only = one("identitiesonly");
  if (only) {
    const flag = (only.args[0] as string).toLowerCase();
    if (!["yes", "no", "true", "false"].includes(flag)) throw invalid(only, `sets IdentitiesOnly ${JSON.stringify(only.args[0])}, not yes or no`);
    out.identitiesOnly = flag === "yes" || flag === "true";
  }
  // Tokens in file names stand for the final values, the URL's and the environment's included.
  const local = hostname();
  const tokens: Record<string, string> = { d: opts.home, u: opts.localUser, h: out.hostName ?? host, n: host, k: host, r: opts.user ?? out.user ?? opts.localUser, p: String(opts.port ?? out.port ?? 22) };
  Object.assign(tokens, { l: local, L: local.split(".")[0] ?? local, i: String(process.getuid?.() ?? ""), j: "" });
  tokens["C"] = createHash("sha1").update(`${tokens["l"]}${tokens["h"]}${tokens["p"]}${tokens["r"]}`).digest("hex");
  const path = (v: Value, arg: string): string => {
    const p = expand(v, arg, tokens, invalid);
    return p === "~" ? opts.home : p.startsWith("~/") ? join(opts.home, p.slice(2)) : p;
  };
  for (const v of identities) if ((v.args[0] as string).toLowerCase() !== "none") out.identityFiles.push(path(v, v.args[0] as string));
  // ssh uses whichever of the two comes first; `none` turns the other one off.
  const proxies = (["proxyjump", "proxycommand"] as const).map((k) => [k, one(k)] as const).filter((e): e is readonly ["proxyjump" | "proxycommand", Value] => e[1] !== undefined);
  const proxy = proxies.sort((a, b) => (a[1].file === b[1].file ? a[1].line - b[1].line : 0))[0];
  if (proxy && proxy[1].args[0]?.toLowerCase() !== "none") out.proxy = { keyword: proxy[0] === "proxyjump" ? "ProxyJump" : "ProxyCommand", file: proxy[1].file, line: proxy[1].line };
  const known = one("userknownhostsfile");
  if (known) out.userKnownHostsFiles = known.args.length === 1 && known.args[0]?.toLowerCase() === "none" ? [] : known.args.map((a) => path(known, a));
  return out;
}

/**
 * A line as [keyword in lower case, arguments], or undefined for a blank or comment line.
 * `Keyword value`, `Keyword=value`; arguments split at blanks, kept whole in "double" or
 * 'single' quotes; a `#` starting an argument starts a comment.
 */
function splitLine(raw: string, bad: (why: string) => CofferError): [string, string[]] | undefined {
  const m = /^\s*([^\s=#][^\s=]*)\s*(?:=\s*)?(.*)$/.exec(raw);
  if (!m) {
    if (/^\s*(#.*)?$/.test(raw)) return undefined;
    throw bad("has no keyword");
  }
  const args: string[] = [];
  const rest = m[2] ?? "";
  let i = 0;
  while (i < rest.length) {
    while (i < rest.length && /\s/.test(rest[i] as string)) i++;
    if (i >= rest.length || rest[i] === "#") break;
    let arg = "";
    let quote = "";
    for (; i < rest.length; i++) {
      const c = rest[i] as string;
      if (quote === "" && /\s/.test(c)) break;
      if (c === "\\" && i + 1 < rest.length && /[\\'"]/.test(rest[i + 1] as string)) arg += rest[++i];
      else if (quote === "" && (c === '"' || c === "'")) quote = c;
      else if (c === quote) quote = "";
      else arg += c;
    }
    if (quote !== "") throw bad("has a quote that is not closed");
    args.push(arg);
  }
  return [(m[1] as string).toLowerCase(), args];
}

/** Whether a Host line's patterns take `name` (lower case): one matches, and no `!` one does. */
function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith("!");
    if (!wildcard(negated ? p.slice(1) : p, true).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `*` and `?` as a whole-string regular expression; `*` does not cross "/" in file globs. */
function wildcard(pattern: string, caseless: boolean): RegExp {
  const any = caseless ? ".*" : "[^/]*";
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, any).replace(/\?/g, caseless ? "." : "[^/]");
  return new RegExp(`^${re}$`, caseless ? "i" : "");
}

/** `%` tokens: `%%` and the ones in `tokens`; any other is an error (ssh refuses it too). */
function expand(v: Value, s: string, tokens: Record<string, string>, invalid: (v: Value, why: string) => CofferError): string {
  return s.replace(/%(.?)/g, (all, t: string) => {
    if (t === "%") return "%";
    const value = tokens[t];
    if (value === undefined) throw invalid(v, `uses ${all === "%" ? "a lone %" : all} in ${JSON.stringify(s)}, a token coffer does not expand (it knows %% ${Object.keys(tokens).map((k) => `%${k}`).join(" ")})`);
    return value;
  });
}

/** The existing files an Include pattern names, sorted as glob(3) sorts them. */
function glob(path: string): string[] {
  const parts = path.split("/");
  let found = [parts[0] === "" ? "/" : (parts[0] as string)];
  for (const part of parts.slice(1)) {
    if (part === "") continue;
    if (!/[*?]/.test(part)) {
      found = found.map((d) => join(d, part));
      continue;
    }
    const re = wildcard(part, false);
    found = found.flatMap((d) => {
      try {
        return readdirSync(d)
          .filter((e) => re.test(e) && (!e.startsWith(".") || part.startsWith(".")))
          .sort()
          .map((e) => join(d, e));
      } catch {
        return [];
      }
    });
  }
  return found;
}
