import { readFileSync } from "node:fs";

export interface NameLookupOptions {
  /** Defaults to /etc/passwd. */
  passwdFile?: string;
  /** Defaults to /etc/group. */
  groupFile?: string;
}

/**
 * uid → user and gid → group names for tree nodes, read from the passwd and group files the
 * first time a name is asked for and kept for the life of the instance. Accounts that only
 * NSS knows (LDAP, systemd-homed) are not in those files and come back undefined, which is
 * fine: the numeric ids are always stored.
 */
export class NameLookup {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;
  private readonly passwdFile: string;
  private readonly groupFile: string;

  constructor(opts: NameLookupOptions = {}) {
    this.passwdFile = opts.passwdFile ?? "/etc/passwd";
    this.groupFile = opts.groupFile ?? "/etc/group";
  }

  user(uid: number): string | undefined {
    this.users ??= readIdFile(this.passwdFile);
    return this.users.get(uid);
  }

  group(gid: number): string | undefined {
    this.groups ??= readIdFile(this.groupFile);
    return this.groups.get(gid);
  }
}

/** `name:password:id:...` lines; the first name for an id wins, as getpwuid does. */
function readIdFile(file: string): Map<number, string> {
  const out = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return out; // no such file (containers, other systems): names stay unknown
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    const name = f[0];
    const id = Number(f[2]);
    if (!name || f[2] === undefined || f[2] === "" || !Number.isInteger(id)) continue;
    if (!out.has(id)) out.set(id, name);
  }
  return out;
}
