import { CofferError } from "../../core/errors.js";
import { isIdHex } from "../../core/hex.js";
import { parseKeyFile } from "../../crypto/keyfile.js";
import type { Repository } from "../../repository/repository.js";
import { findSnapshot } from "../../snapshot/snapshot-store.js";
import { decodeTree } from "../../snapshot/tree.js";
import { lookupPath } from "../../snapshot/walker.js";
import { stdoutSink } from "../binary-output.js";
import { defineCommand } from "../command.js";
import { openRepo } from "../open-repo.js";

const TYPES = ["config", "key", "index", "snapshot", "lock", "pack", "blob", "tree", "masterkey"] as const;
type CatType = (typeof TYPES)[number];

export const catCommand = defineCommand({
  name: "cat",
  summary: "print a repository object",
  description:
    "Print one object of the repository, decrypted and verified: config, key, index, snapshot, lock and tree as indented " +
    "JSON; a blob's plain bytes and a pack's stored bytes as they are. IDs may be unique prefixes; a snapshot may be " +
    "\"latest\"; a tree may be given as SNAPSHOT:PATH. The config's id key is hidden, and the master key is never printed: " +
    "a key file (cat key ID) plus its password is the way to hand on access.",
  examples: [
    "coffer cat config",
    "coffer cat snapshot latest",
    "coffer cat tree latest:/srv/app",
    "coffer cat blob 9f86d081 > chunk.bin",
    "coffer cat key 1a2b3c4d",
  ],
  arguments: [
    { name: "<type>", description: TYPES.filter((t) => t !== "masterkey").join(", ") },
    { name: "[id]", description: "the object's id or a unique prefix (not for config)" },
  ],
  async run(ctx, args) {
    const [rawType, id] = args as [string, string | undefined];
    if (!(TYPES as readonly string[]).includes(rawType)) {
      throw new CofferError("USAGE", `"${rawType}" is not something cat prints; use one of ${TYPES.filter((t) => t !== "masterkey").join(", ")}.`);
    }
    const type = rawType as CatType;
    if (type === "masterkey") {
      throw new CofferError("INVALID", "The master key is never printed; to give someone access, add a key for them with \"coffer key add\".");
    }
    if (type !== "config" && (id === undefined || id === "")) throw new CofferError("USAGE", `cat ${type} needs an id: coffer cat ${type} ID.`);
    const repo = await openRepo(ctx, { loadIndex: type === "blob" || type === "tree" });
    try {
      if (type === "pack") {
        const full = await repo.resolveId("data", id as string);
        await stdoutSink(ctx).write(await repo.backend.load({ type: "data", name: full }));
        return;
      }
      if (type === "blob") {
        const bytes = await loadAnyBlob(repo, id as string);
        await stdoutSink(ctx).write(bytes);
        return;
      }
      const value = await loadJsonObject(repo, type, id);
      ctx.stdout.write(JSON.stringify(value, null, ctx.options.json ? undefined : 2) + "\n");
    } finally {
      await repo.close();
    }
  },
});

async function loadJsonObject(repo: Repository, type: Exclude<CatType, "pack" | "blob" | "masterkey">, id: string | undefined): Promise<unknown> {
  switch (type) {
    case "config":
      // The id key names every blob; it is key material, like the master key.
      return { ...repo.config, id_key: "(hidden)" };
    case "key": {
      const full = await repo.resolveId("key", id as string);
      return parseKeyFile(await repo.backend.load({ type: "key", name: full }), full);
    }
    case "snapshot": {
      const { id: _id, ...snap } = await findSnapshot(repo, id as string);
      return snap;
    }
    case "index":
    case "lock":
      return repo.loadJson(type, await repo.resolveId(type, id as string));
    case "tree": {
      const ref = id as string;
      const colon = ref.indexOf(":");
      if (colon >= 0) {
        const snap = await findSnapshot(repo, ref.slice(0, colon));
        const found = await lookupPath(repo, snap.tree, ref.slice(colon + 1) || "/");
        if (found.treeId === undefined) throw new CofferError("INVALID", `${found.path} is not a directory in the snapshot, so it has no tree.`, { path: found.path });
        return decodeTree(await repo.loadBlob("tree", Buffer.from(found.treeId, "hex")));
      }
      return decodeTree(await repo.loadBlob("tree", blobIdFrom(repo, ref, "tree")));
    }
  }
}

/** A data or tree blob by id or unique prefix. */
async function loadAnyBlob(repo: Repository, ref: string): Promise<Buffer> {
  const id = blobIdFrom(repo, ref);
  const type = repo.index.blobType(id);
  if (type === undefined) throw new CofferError("NOT_FOUND", `No blob has the id ${ref}; run "coffer check" if a snapshot needs it.`, { blob: ref });
  return repo.loadBlob(type, id);
}

/** Resolves a blob id or prefix through the index (a prefix costs a scan of it). */
function blobIdFrom(repo: Repository, ref: string, type?: "tree"): Buffer {
  const want = ref.toLowerCase();
  if (!/^[0-9a-f]+$/.test(want)) throw new CofferError("USAGE", `"${ref}" is not a blob id; give its hex id or a prefix of one.`);
  if (isIdHex(want)) return Buffer.from(want, "hex");
  const found = new Set<string>();
  for (const e of repo.index.entries()) {
    if (type !== undefined && e.type !== type) continue;
    const hex = e.id.toString("hex");
    if (hex.startsWith(want)) found.add(hex);
  }
  const what = type ?? "blob";
  if (found.size === 0) throw new CofferError("NOT_FOUND", `No ${what} has an id starting with "${ref}".`, { prefix: ref });
  if (found.size > 1) throw new CofferError("AMBIGUOUS", `The prefix "${ref}" matches ${found.size} ${what}s; give more characters.`, { prefix: ref });
  return Buffer.from([...found][0] as string, "hex");
}
