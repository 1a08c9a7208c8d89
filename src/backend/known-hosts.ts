import { createHash, createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import { sysCode } from "../core/errors.js";

/**
 * OpenSSH's known_hosts files (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), read-only: plain and
 * hashed (`|1|salt|hmac`) host patterns, `*` / `?` wildcards, `!` negation, `[host]:port` for
 * ports other than 22, and the `@revoked` marker. `@cert-authority` lines are skipped: host
 * certificates are not supported, so such a host must be listed by its own key.
 */
export interface KnownHost {
  file: string;
  /** 1-based. */
  line: number;
  revoked: boolean;
  /** The host field as written (comma-separated patterns, or one hashed name). */
  hosts: string;
  /** The key type written on the line (`ssh-ed25519`, `ssh-rsa`, ...). */
  type: string;
  /** The public key blob in SSH wire format (what the server sends). */
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: "known"; entry: KnownHost }
  /** No line names the host. */
  | { status: "unknown" }
  /** Lines name the host, but only with keys of other types. */
  | { status: "other-types"; types: string[]; entry: KnownHost }
  /** A line names the host with another key of the same type. */
  | { status: "changed"; entry: KnownHost }
  | { status: "revoked"; entry: KnownHost };

/** The name a host is listed under: `host` for port 22, `[host]:port` otherwise (lower case). */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Reads the files that exist, in order; a missing or unreadable file lists nothing. */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHost[]> {
  const out: KnownHost[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR" || sysCode(err) === "EACCES") continue;
      throw err;
    }
    out.push(...parseKnownHosts(text, file));
  }
  return out;
}

/** The lines of one file that name hosts with keys; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string, file: string): KnownHost[] {
  const out: KnownHost[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) return;
    let revoked = false;
    if (fields[0].startsWith("@")) {
      if (fields[0] !== "@revoked") return;
      revoked = true;
      fields.shift();
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) return;
    const key = Buffer.from(b64, "base64");
    if (key.length === 0 || blobType(key) !== type) return;
    out.push({ file, line: i + 1, revoked, hosts, type, key });
  });
  return out;
}

/** Whether a line's host field names `name` (as `knownHostName` makes it). */
export function hostMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    const negated = pattern.startsWith("!");
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Checks the key a server presented against the lines that name it, as OpenSSH does. */
export function checkHostKey(entries: readonly KnownHost[], name: string, key: Buffer): HostKeyVerdict {
  const mine = entries.filter((e) => hostMatches(e.hosts, name));
  const revoked = mine.find((e) => e.revoked && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const valid = mine.filter((e) => !e.revoked);
  const same = valid.find((e) => e.key.equals(key));
  if (same) return { status: "known", entry: same };
  const type = blobType(key);
  const sameType = valid.find((e) => e.type === type);
  if (sameType) return { status: "changed", entry: sameType };
  const first = valid[0];
  if (first) return { status: "other-types", types: [...new Set(valid.map((e) => e.type))], entry: first };
  return { status: "unknown" };
}

/** The key types known for a host, so the handshake can ask for those first. */
export function knownKeyTypes(entries: readonly KnownHost[], name: string): string[] {
  return [...new Set(entries.filter((e) => !e.revoked && hostMatches(e.hosts, name)).map((e) => e.type))];
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The type string at the start of a key blob (`ssh-ed25519`, ...), or "" if there is none. */
export function blobType(key: Buffer): string {
  if (key.length < 4) return "";
  const n = key.readUInt32BE(0);
  return n > 0 && n < 64 && 4 + n <= key.length ? key.subarray(4, 4 + n).toString("latin1") : "";
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(name);
}
