import { randomBytes } from "node:crypto";
import type { Backend, FileType, Handle } from "../backend/backend.js";
import { type Clock, systemClock } from "../core/clock.js";
import { CofferError } from "../core/errors.js";
import { AesGcmCrypter, type Crypter, NoneCrypter } from "../crypto/aead.js";
import { DEFAULT_KDF, type KdfParams } from "../crypto/kdf.js";
import { createKeyFile, newMasterKey, openKeyFile, parseKeyFile } from "../crypto/keyfile.js";
import { type BlobType, decodeBlob, encodeBlob, type EncodedBlob } from "./blob.js";
import { blobId, type IdKey } from "./blob-id.js";
import { idHashOf, newConfig, parseConfig, type RepoConfig } from "./config.js";
import { packHashOf, type PackHash } from "./pack-hash.js";
import { decodeJsonFile, encodeJsonFile, encodeJsonText } from "./file-codec.js";
import { IndexCache } from "./index-cache.js";
import { readIndexFileEncoded } from "./index-file.js";
import { LocalCache, type LocalCacheOptions } from "./local-cache.js";
import { MasterIndex } from "./master-index.js";
import { HEADER_ENTRY } from "./pack.js";
import { mapLimit } from "./map-limit.js";
import type { UploadCheck } from "./upload-digest.js";

const TREE_CACHE_BYTES = 64 * 1024 * 1024;
/** Trees of one pack read by range before the pack is loaded whole (see #treeBlobBytes). */
const TREES_BY_RANGE = 16;

export interface InitOptions {
  /** Required unless encryption is "none". */
  password?: string;
  encryption?: RepoConfig["encryption"];
  kdf?: KdfParams;
  /** Share chunker and id parameters with this repository's config (for `copy`). */
  paramsFrom?: RepoConfig;
  packSize?: number;
  /** The hash that names packs; the default is BLAKE3 where its native build loads (pack-hash.ts). */
  packHash?: PackHash;
  clock?: Clock;
}

export interface OpenOptions {
  /** A password, or a function asked for one only when the repository is encrypted. */
  password?: string | (() => Promise<string>);
  clock?: Clock;
  /**
   * The local cache: for every backend, the index as last loaded (index-cache.ts); for a
   * remote one (`properties.remote`), also copies of index files, snapshot files and tree
   * packs (local-cache.ts). Everything in it is verified on every use.
   */
  cache?: LocalCacheOptions;
}

/**
 * An open repository: its config, its key, and verified access to its files and blobs.
 * Everything read is checked (file names are SHA-256 of their bytes, blobs are checked
 * against their keyed-hash id) before it is returned.
 */
export class Repository {
  readonly index = new MasterIndex();
  readonly idKey: IdKey;
  /** The hash that names this repository's packs (the config's `pack_hash`). */
  readonly packHash: PackHash;
  readonly clock: Clock;
  readonly #masterKey: Buffer | null;
  #treePacks = new Map<string, Promise<Buffer>>();
  #treePackBytes = 0;
  /** Trees read by range from each tree pack not (yet) loaded whole (see #treeBlobBytes). */
  #treeReads = new Map<string, number>();
  #cache: LocalCache | undefined;
  #indexCache: IndexCache | undefined;
  /** What the last loadIndex listed, and which of those were superseded (see cacheIndex). */
  #indexListed: string[] = [];
  #indexSuperseded: string[] = [];

  private constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    readonly crypter: Crypter,
    readonly keyId: string | undefined,
    masterKey: Buffer | null,
    clock: Clock,
  ) {
    this.idKey = { hash: idHashOf(config), key: Buffer.from(config.id_key, "base64") };
    this.packHash = packHashOf(config);
    this.#masterKey = masterKey;
    this.clock = clock;
  }

  /** Whether a repository (its config file) exists in the backend. */
  static async exists(backend: Backend): Promise<boolean> {
    try {
      await backend.stat({ type: "config", name: "" });
      return true;
    } catch (err) {
      if (backend.isNotFound(err)) return false;
      throw err;
    }
  }

  static async init(backend: Backend, opts: InitOptions = {}): Promise<Repository> {
    const clock = opts.clock ?? systemClock;
    const encryption = opts.encryption ?? "aes-256-gcm";
    if (await Repository.exists(backend)) {
      throw new CofferError("REPO_EXISTS", `A repository already exists at ${backend.location}.`);
    }
    const config = newConfig({ encryption, ...(opts.packSize ? { packSize: opts.packSize } : {}), ...(opts.paramsFrom ? { paramsFrom: opts.paramsFrom } : {}), ...(opts.packHash ? { packHash: opts.packHash } : {}) });
    await backend.create();
    if (encryption === "none") {
      await backend.save({ type: "config", name: "" }, Buffer.from(JSON.stringify(config, null, 2) + "\n"));
      return new Repository(backend, config, new NoneCrypter(), undefined, null, clock);
    }
    if (!opts.password) throw new CofferError("NO_PASSWORD", "A password is needed to create an encrypted repository.");
    const master = newMasterKey();
    const key = await createKeyFile(master, opts.password, opts.kdf ?? DEFAULT_KDF, clock());
    // Key before config: a config without a key would be a repository nobody can open.
    await backend.save({ type: "key", name: key.id }, key.bytes, { sha256: key.id });
    const crypter = new AesGcmCrypter(master);
    await backend.save({ type: "config", name: "" }, crypter.seal(Buffer.from(JSON.stringify(config))));
    return new Repository(backend, config, crypter, key.id, master, clock);
  }

  static async open(backend: Backend, opts: OpenOptions = {}): Promise<Repository> {
    const repo = await Repository.#open(backend, opts);
    if (opts.cache) {
      const cache = await LocalCache.open(repo.config.id, { ...opts.cache, packHash: repo.packHash });
      if (cache && backend.properties.remote) repo.#cache = cache;
      if (cache) repo.#indexCache = new IndexCache(cache.dir, repo.crypter, opts.cache.onProblem);
    }
    return repo;
  }

  static async #open(backend: Backend, opts: OpenOptions): Promise<Repository> {
    const clock = opts.clock ?? systemClock;
    let raw: Buffer;
    try {
      raw = await backend.load({ type: "config", name: "" });
    } catch (err) {
      if (backend.isNotFound(err)) {
        throw new CofferError("REPO_MISSING", `There is no repository at ${backend.location}; create one with "coffer init".`);
      }
      throw err;
    }
    const keys: string[] = [];
    for await (const f of backend.list("key")) keys.push(f.name);
    if (keys.length === 0) {
      // An unencrypted config is JSON; an encrypted one starts with a random nonce, whose first
      // byte is "{" once in 256 repositories, so only a config that parses counts as plain.
      const config = raw[0] === 0x7b ? plainConfigOrUndefined(raw) : undefined;
      if (config?.encryption !== "none") throw new CofferError("WRONG_PASSWORD", `The repository at ${backend.location} has no key files, so it cannot be opened.`);
      return new Repository(backend, config, new NoneCrypter(), undefined, null, clock);
    }
    const password = typeof opts.password === "function" ? await opts.password() : opts.password;
    if (password === undefined || password === "") {
      throw new CofferError("NO_PASSWORD", "This repository is encrypted: give its password with --password-file, --password-command or COFFER_PASSWORD.");
    }
    keys.sort();
    let unreadable: unknown;
    for (const id of keys) {
      let file;
      try {
        file = parseKeyFile(await backend.load({ type: "key", name: id }), id);
      } catch (err) {
        // One damaged or newer-format key file must not lock out the others.
        unreadable ??= err;
        continue;
      }
      const master = await openKeyFile(file, password);
      if (!master) continue;
      const crypter = new AesGcmCrypter(master);
      const config = parseConfig(crypter.open(raw, "the repository config"));
      return new Repository(backend, config, crypter, id, master, clock);
    }
    if (unreadable !== undefined && keys.length === 1) throw unreadable;
    throw new CofferError("WRONG_PASSWORD", "The password does not open any key of this repository.");
  }

  /** The local cache in use: undefined for a local backend, or when none was asked for or it cannot be used. */
  get cache(): LocalCache | undefined {
    return this.#cache;
  }

  /** The master key, for worker threads and new key files; null in mode `none`. */
  masterKey(): Buffer | null {
    return this.#masterKey ? Buffer.from(this.#masterKey) : null;
  }

  blobId(plain: Uint8Array): Buffer {
    return blobId(this.idKey, plain);
  }

  encodeBlob(plain: Uint8Array): EncodedBlob {
    return encodeBlob(plain, this.crypter, this.config.compression.level);
  }

  /** Loads one blob through the index, verified against its id. */
  async loadBlob(type: BlobType, id: Buffer): Promise<Buffer> {
    const candidates = this.index.entriesOf(id).filter((e) => e.type === type);
    if (candidates.length === 0) {
      throw new CofferError("NOT_FOUND", `${type} blob ${id.toString("hex").slice(0, 8)} is not in the index; run "coffer check".`, { blob: id.toString("hex") });
    }
    let lastErr: unknown;
    for (const e of candidates) {
      try {
        const stored = type === "tree" ? await this.#treeBlobBytes(e.pack, e.offset, e.length) : await this.backend.load({ type: "data", name: e.pack }, { offset: e.offset, length: e.length });
        return decodeBlob(stored, e, this.crypter, this.idKey, `pack ${e.pack.slice(0, 8)}`);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }

  /**
   * Tree packs hold only trees, and a walk that reads trees here reads most of them: once a
   * few trees of a pack have been asked for, its whole pack is loaded, and later ones are
   * sliced from memory (bounded, least recently used out). The first few are read by range: a
   * backup reads only the trees on the way to its paths here (a worker reads the rest, see
   * tree-prefetch.ts), and holding their 8 MB pack for the whole backup made a tenth of its
   * peak memory. A remote repository's tree packs come whole from the local cache. Every blob
   * is still verified against its id when decoded.
   */
  async #treeBlobBytes(pack: string, offset: number, length: number): Promise<Buffer> {
    let p = this.#treePacks.get(pack);
    if (p === undefined && this.#cache === undefined) {
      const reads = (this.#treeReads.get(pack) ?? 0) + 1;
      if (reads <= TREES_BY_RANGE) {
        this.#treeReads.set(pack, reads);
        return this.backend.load({ type: "data", name: pack }, { offset, length });
      }
      this.#treeReads.delete(pack);
    }
    if (p) {
      this.#treePacks.delete(pack);
      this.#treePacks.set(pack, p);
    } else {
      p = this.#loadFile({ type: "data", name: pack });
      this.#treePacks.set(pack, p);
      p.then(
        (b) => {
          this.#treePackBytes += b.length;
          while (this.#treePackBytes > TREE_CACHE_BYTES && this.#treePacks.size > 1) {
            const [oldest, ob] = this.#treePacks.entries().next().value as [string, Promise<Buffer>];
            this.#treePacks.delete(oldest);
            void ob.then((x) => (this.#treePackBytes -= x.length)).catch(() => undefined);
          }
        },
        () => this.#treePacks.delete(pack),
      );
    }
    const bytes = await p;
    if (offset + length > bytes.length) throw new CofferError("CORRUPT", `Pack ${pack.slice(0, 8)} is shorter than its index says.`, { pack });
    return bytes.subarray(offset, offset + length);
  }

  /** Saves a JSON file (index, snapshot, lock) and returns its id. */
  async saveJson(type: FileType, value: unknown): Promise<string> {
    return this.#saveEncoded(type, encodeJsonFile(value, this.crypter));
  }

  /** saveJson for a value already written as JSON text. */
  async saveJsonText(type: FileType, text: string): Promise<string> {
    return this.#saveEncoded(type, encodeJsonText(text, this.crypter));
  }

  async #saveEncoded(type: FileType, { id, bytes }: { id: string; bytes: Buffer }): Promise<string> {
    await this.backend.save({ type, name: id }, bytes, { sha256: id });
    await this.#cache?.put({ type, name: id }, bytes);
    return id;
  }

  async loadJson(type: FileType, id: string): Promise<unknown> {
    const bytes = await this.#loadFile({ type, name: id });
    return decodeJsonFile(bytes, this.crypter, `${typeName(type)} ${id.slice(0, 8)}`, id);
  }

  /** A whole file, from the local cache when it holds a sound copy (index, snapshot, tree pack). */
  async #loadFile(h: Handle): Promise<Buffer> {
    const cached = await this.#cache?.get(h);
    if (cached) return cached;
    const bytes = await this.backend.load(h);
    await this.#cache?.put(h, bytes);
    return bytes;
  }

  /** The ids of a type; the local cache forgets the files of that type no longer listed. */
  async listIds(type: FileType): Promise<string[]> {
    return (await this.listFiles(type)).map((f) => f.name);
  }

  /** The files of a type with their sizes, by id. */
  async listFiles(type: FileType): Promise<{ name: string; size: number }[]> {
    const out: { name: string; size: number }[] = [];
    for await (const f of this.backend.list(type)) out.push({ name: f.name, size: f.size });
    await this.#cache?.keepOnly(type, new Set(out.map((f) => f.name)));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Resolves an id prefix of a file of the given type. */
  async resolveId(type: FileType, prefix: string): Promise<string> {
    const ids = (await this.listIds(type)).filter((id) => id.startsWith(prefix));
    if (ids.length === 0) throw new CofferError("NOT_FOUND", `No ${typeName(type)} has an id starting with "${prefix}".`, { prefix });
    if (ids.length > 1) throw new CofferError("AMBIGUOUS", `The prefix "${prefix}" matches ${ids.length} ${typeName(type)}s; give more characters.`, { prefix });
    return ids[0] as string;
  }

  /**
   * Loads every index file into the in-memory index, skipping superseded ones. With a local
   * cache, starts from the index cached by the last load (index-cache.ts) and reads only the
   * index files written since; then caches the result.
   */
  async loadIndex(): Promise<void> {
    const ids = await this.listIds("index");
    const cached = this.index.size === 0 && this.index.files.size === 0 ? await this.#indexCache?.read() : undefined;
    const listed = new Set(ids);
    let base = cached?.listed.every((id) => listed.has(id)) ? cached : undefined;
    const known = new Set(base?.listed);
    const fresh = await this.#readIndexFiles(ids.filter((id) => !known.has(id)));
    const wasSuperseded = new Set(base?.superseded);
    const superseded = new Set(wasSuperseded);
    for (const f of fresh) for (const s of f.file.supersedes) superseded.add(s);
    if (base?.listed.some((id) => superseded.has(id) && !wasSuperseded.has(id))) {
      // A new index file replaces one the cache holds (prune, repair index): read them all.
      fresh.push(...(await this.#readIndexFiles(base.listed)));
      for (const f of fresh) for (const s of f.file.supersedes) superseded.add(s);
      base = undefined;
    }
    if (base) {
      this.index.fromArrays(base.arrays);
      for (const id of base.listed) if (!wasSuperseded.has(id)) this.index.files.add(id);
    }
    let blobs = 0;
    for (const f of fresh) if (!superseded.has(f.id)) for (const [, b] of f.file.packs) blobs += b.length / HEADER_ENTRY;
    this.index.reserve(blobs);
    for (const f of fresh) {
      if (superseded.has(f.id)) continue;
      this.index.files.add(f.id);
      for (const [pack, encoded] of f.file.packs) this.index.addEncoded(pack, encoded);
    }
    this.#indexListed = ids;
    this.#indexSuperseded = ids.filter((id) => superseded.has(id));
    if (fresh.length > 0 || base !== cached) await this.cacheIndex();
    // Tree packs that no index names any more were pruned.
    await this.#cache?.keepOnly("data", new Set(this.index.packs()));
  }

  /**
   * Keeps the in-memory index in the index cache (when there is one), for the next command:
   * called by loadIndex, and by a backup once every pack it wrote is in an index file (the
   * index in memory is then exactly what the files loaded and the files written hold).
   */
  async cacheIndex(): Promise<void> {
    if (!this.#indexCache || this.index.files.size === 0) return;
    const listed = [...new Set([...this.#indexListed, ...this.index.files])].sort();
    await this.#indexCache.write({ listed, superseded: this.#indexSuperseded, arrays: this.index.toArrays() });
  }

  async #readIndexFiles(ids: readonly string[]): Promise<{ id: string; file: ReturnType<typeof readIndexFileEncoded> }[]> {
    return mapLimit(ids, this.backend.properties.connections, async (id) => ({ id, file: readIndexFileEncoded(await this.loadJson("index", id), id) }));
  }

  /**
   * Saves a finished pack's bytes under its name (the pack hash its builder computed). A pack of
   * trees (`type`) is also kept in the local cache, where the next backup reads its parent.
   * `check`: the digest the builder took of the bytes for the upload (see memoryPack), if any.
   */
  async savePack(id: string, bytes: Buffer, type?: BlobType, check?: UploadCheck): Promise<void> {
    // A SHA-256 name doubles as the payload hash a remote server checks the upload against;
    // for a BLAKE3 name, the digest the builder took (if any) does that job.
    await this.backend.save({ type: "data", name: id }, bytes, this.packHash === "sha256" ? { sha256: id } : check);
    if (type === "tree") await this.#cache?.put({ type: "data", name: id }, bytes);
  }

  /** Adds a key file for a new password; returns its id. */
  async addKey(password: string, kdf: KdfParams = DEFAULT_KDF): Promise<string> {
    if (!this.#masterKey) throw new CofferError("UNSUPPORTED", "This repository is not encrypted, so it has no keys.");
    const key = await createKeyFile(this.#masterKey, password, kdf, this.clock());
    await this.backend.save({ type: "key", name: key.id }, key.bytes, { sha256: key.id });
    return key.id;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

function typeName(type: FileType): string {
  return type === "data" ? "pack" : type;
}

/** A random id for objects not named by content (none today; kept for lock tokens). */
export function randomId(): string {
  return randomBytes(32).toString("hex");
}

export type { Handle };

function plainConfigOrUndefined(raw: Buffer): RepoConfig | undefined {
  try {
    return parseConfig(raw);
  } catch (err) {
    // Not JSON: an encrypted config. A plain config of an unknown version stays UNSUPPORTED.
    if (err instanceof CofferError && err.code === "CORRUPT") return undefined;
    throw err;
  }
}
