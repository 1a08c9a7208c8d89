import { CofferError } from "../../core/errors.js";
import { PACK_HASHES, type PackHash } from "../../repository/pack-hash.js";
import { Repository } from "../../repository/repository.js";
import { defineCommand } from "../command.js";
import { kdfParams, openCliBackend } from "../open-repo.js";
import { printJson, printLine } from "../output.js";

export const initCommand = defineCommand<{ insecureNoPassword?: boolean; copyParamsFrom?: string; fromPasswordFile?: string; packSize?: number; packHash?: string }>({
  name: "init",
  summary: "create a new repository",
  description:
    "Create a new, empty repository at the location given with -r (or COFFER_REPOSITORY), encrypted with the password from " +
    "--password-file, --password-command, COFFER_PASSWORD or a prompt. Without -r, the default local repository is created " +
    "with a generated password file. Keep a copy of the password: without it the backups cannot be read.",
  examples: [
    "coffer init -r /mnt/backup/coffer",
    "COFFER_PASSWORD_FILE=~/.coffer-pass coffer init -r /srv/repo",
    "coffer init -r /srv/copy --copy-params-from /srv/repo   # deduplicates against /srv/repo for `coffer copy`",
    "coffer init -r /srv/plain --insecure-no-password        # no encryption (ids and hashes still verified)",
    "coffer init -r /srv/repo --pack-hash sha256             # packs named by SHA-256, so sha256sum checks them",
    "coffer init -r sftp:backup@nas.lan:/srv/coffer          # over SSH: keys from ssh-agent or ~/.ssh, host from ~/.ssh/known_hosts",
    "coffer init -r sftp:nas:/srv/coffer                     # a Host alias of ~/.ssh/config (HostName, User, Port, IdentityFile)",
  ],
  options: [
    { flags: "--insecure-no-password", description: "create an unencrypted repository (mode none)" },
    { flags: "--copy-params-from <repository>", description: "share chunker and id parameters with this repository (its password via COFFER_FROM_PASSWORD or --from-password-file)" },
    { flags: "--from-password-file <file>", description: "password file of the --copy-params-from repository" },
    { flags: "--pack-hash <hash>", description: "the hash that names pack files: blake3 (the default where its native build loads; b3sum checks a pack) or sha256 (sha256sum checks a pack; slower)" },
  ],
  async run(ctx, _args, opts) {
    const backend = openCliBackend(ctx, ctx.repository.location);
    try {
      let paramsFrom;
      if (opts.copyParamsFrom) {
        const { readFile } = await import("node:fs/promises");
        const fromPw = opts.fromPasswordFile ? (await readFile(opts.fromPasswordFile, "utf8")).replace(/\r?\n$/, "") : ctx.env.COFFER_FROM_PASSWORD;
        const from = await Repository.open(openCliBackend(ctx, opts.copyParamsFrom), { ...(fromPw ? { password: fromPw } : {}) });
        paramsFrom = from.config;
        await from.close();
      }
      const packHash = opts.packHash;
      if (packHash !== undefined && !PACK_HASHES.includes(packHash as PackHash)) {
        throw new CofferError("USAGE", `--pack-hash must be one of ${PACK_HASHES.join(", ")}, not ${JSON.stringify(packHash)}.`);
      }
      const encryption = opts.insecureNoPassword ? "none" : "aes-256-gcm";
      const password = encryption === "none" ? undefined : await ctx.password({ createDefault: ctx.repository.isDefault });
      if (encryption !== "none" && !password) throw new CofferError("NO_PASSWORD", "A password is needed to create an encrypted repository.");
      const repo = await Repository.init(backend, { encryption, ...(password ? { password } : {}), kdf: kdfParams(ctx), clock: ctx.clock, ...(paramsFrom ? { paramsFrom } : {}), ...(packHash ? { packHash: packHash as PackHash } : {}) });
      if (ctx.options.json) printJson(ctx, { id: repo.config.id, location: backend.location, encryption, key: repo.keyId ?? null, pack_hash: repo.packHash });
      else {
        printLine(ctx, `created coffer repository ${repo.config.id.slice(0, 10)} at ${backend.location}`);
        if (encryption !== "none") printLine(ctx, "Keep the password safe: losing it means the data in this repository cannot be read.");
      }
    } finally {
      await backend.close();
    }
  },
});
