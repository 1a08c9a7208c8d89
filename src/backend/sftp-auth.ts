import { readFile } from "node:fs/promises";
import type { AnyAuthMethod } from "ssh2";
import { CofferError, sysCode } from "../core/errors.js";

type Ssh2 = typeof import("ssh2");

/** How coffer will try to log in, and what it skipped (for the message when all fail). */
export interface SftpIdentities {
  methods: AnyAuthMethod[];
  /** What was tried, for messages: `the SSH agent`, `~/.ssh/id_ed25519`. */
  tried: string[];
  /** Key files left out and why (`~/.ssh/id_rsa is protected by a passphrase`). */
  skipped: string[];
}

export interface IdentityOptions {
  user: string;
  /** SSH_AUTH_SOCK. */
  agent?: string;
  identityFiles: readonly string[];
  /** True when the files came from COFFER_SFTP_KEY: a missing one is an error, not skipped. */
  explicitKey: boolean;
  /** For messages: paths under it are shown as `~/...`. */
  home: string;
}

/**
 * The login methods, in OpenSSH's order: the agent's keys, then the key files that exist
 * (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`, or COFFER_SFTP_KEY alone). Key files protected by a
 * passphrase are skipped (coffer never prompts; such a key belongs in the agent). Nothing to try
 * at all is a permanent error that says how to make a key.
 */
export async function sftpIdentities(ssh2: Ssh2, opts: IdentityOptions, location: string): Promise<SftpIdentities> {
  const out: SftpIdentities = { methods: [], tried: [], skipped: [] };
  const show = (p: string): string => (p.startsWith(`${opts.home}/`) ? `~/${p.slice(opts.home.length + 1)}` : p);
  if (opts.agent) {
    out.methods.push({ type: "agent", username: opts.user, agent: opts.agent });
    out.tried.push("the SSH agent");
  }
  for (const file of opts.identityFiles) {
    let text: Buffer;
    try {
      text = await readFile(file);
    } catch (err) {
      if (!opts.explicitKey && (sysCode(err) === "ENOENT" || sysCode(err) === "ENOTDIR")) continue;
      throw new CofferError("BACKEND", `The SSH key file ${show(file)} cannot be read (${sysCode(err) ?? (err as Error).message}); check COFFER_SFTP_KEY.`, { file, permanent: true }, { cause: err });
    }
    const parsed = ssh2.utils.parseKey(text);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error || key === undefined || !key.isPrivateKey()) {
      const why = key instanceof Error && /passphrase|encrypted/i.test(key.message) ? "is protected by a passphrase (add it to the agent with ssh-add)" : "is not a private key coffer can read";
      if (opts.explicitKey) throw new CofferError("BACKEND", `The SSH key file ${show(file)} ${why}; check COFFER_SFTP_KEY.`, { file, permanent: true });
      out.skipped.push(`${show(file)} ${why}`);
      continue;
    }
    out.methods.push({ type: "publickey", username: opts.user, key });
    out.tried.push(show(file));
  }
  if (out.methods.length === 0) {
    const skipped = out.skipped.length > 0 ? ` (${out.skipped.join("; ")})` : "";
    throw new CofferError(
      "BACKEND",
      `No SSH key to log in to ${location} with${skipped}; start ssh-agent and add a key with ssh-add, create one with "ssh-keygen -t ed25519", or name a key file with COFFER_SFTP_KEY.`,
      { permanent: true },
    );
  }
  return out;
}
