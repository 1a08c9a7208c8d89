import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { handlePath, typeDir, type FileType, type Handle } from "../backend/backend.js";
import { sysCode } from "../core/errors.js";
import { sha256Hex } from "./file-codec.js";
import { packHashHex, type PackHash } from "./pack-hash.js";

/**
 * The local cache of a remote repository: copies of its index files, snapshot files and tree
 * packs under `<root>/<repository id>/`, laid out as in the repository (`index/<id>`,
 * `snapshots/<id>`, `data/<2 hex>/<id>`). Every one of these files is named by the SHA-256 of
 * its bytes, so an entry is checked against its name each time it is read, and a damaged one is
 * deleted and read from the repository again.
 *
 * The cache is only ever a shortcut: no method throws. A cache that cannot be created, read or
 * written reports through `onProblem` and behaves as a cache that holds nothing. Writes go to a
 * temp file in the same directory and are renamed into place, so processes sharing the cache
 * never see a partial file (no fsync: a file lost or cut short in a crash fails its hash check).
 *
 * Key files are not cached: they hold the wrapped master key, and a copy outside the
 * repository would outlive `key remove` and `key passwd`.
 */
export const CACHED_TYPES: ReadonlySet<FileType> = new Set<FileType>(["index", "snapshot", "data"]);

/** The tag (https://bford.info/cachedir/) that makes backup tools skip the cache. */
const CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by coffer.\n# For information about cache directory tags, see https://bford.info/cachedir/\n";
const TEMP_PREFIX = ".tmp-";
/** A temp file older than this was left by a process that died; `keepOnly` removes it. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const HEX64 = /^[0-9a-f]{64}$/;

export interface LocalCacheOptions {
  /** The cache root, shared by every repository: `$XDG_CACHE_HOME/coffer` by default. */
  dir: string;
  /** Told (once per kind of problem) when the cache cannot be used, or holds a damaged entry. */
  onProblem?: (message: string) => void;
  /** The hash that names the repository's packs (its config's pack_hash); SHA-256 when absent. */
  packHash?: PackHash;
}

export interface CacheCounters {
  hits: number;
  misses: number;
  stored: number;
  /** Entries that failed their hash check (deleted). */
  damaged: number;
  /** Entries removed because the repository no longer lists them. */
  dropped: number;
}

/** `$XDG_CACHE_HOME/coffer`, else `~/.cache/coffer` (XDG: a relative XDG_CACHE_HOME is ignored). */
export function defaultCacheRoot(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "coffer");
  const home = env["HOME"] !== undefined && env["HOME"] !== "" ? env["HOME"] : homedir();
  return join(home, ".cache", "coffer");
}

export class LocalCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, stored: 0, damaged: 0, dropped: 0 };
  readonly #reported = new Set<string>();
  readonly #onProblem: (message: string) => void;

  private constructor(
    /** `<root>/<repository id>`. */
    readonly dir: string,
    onProblem: (message: string) => void,
    private readonly packHash: PackHash,
  ) {
    this.#onProblem = onProblem;
  }

  /** Whether `bytes` are the file `h` names: packs by the repository's pack hash, the rest by SHA-256. */
  #matches(h: Handle, bytes: Uint8Array): boolean {
    return (h.type === "data" ? packHashHex(this.packHash, bytes) : sha256Hex(bytes)) === h.name;
  }

  /**
   * The cache of one repository: makes the directories and the root's CACHEDIR.TAG, and marks
   * the repository's cache as used now (its directory's mtime, which `coffer cache --cleanup`
   * reads). Undefined, after telling `onProblem`, when the directory cannot be made.
   */
  static async open(repositoryId: string, opts: LocalCacheOptions): Promise<LocalCache | undefined> {
    const onProblem = opts.onProblem ?? (() => undefined);
    if (!HEX64.test(repositoryId)) return undefined;
    const dir = join(opts.dir, repositoryId);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeTagOnce(opts.dir);
      const now = new Date();
      await utimes(dir, now, now);
    } catch (err) {
      onProblem(`the local cache ${dir} cannot be used (${describe(err)}); reading everything from the repository`);
      return undefined;
    }
    return new LocalCache(dir, onProblem, opts.packHash ?? "sha256");
  }

  /** The cached file's bytes, checked against its name; undefined when not cached (or damaged). */
  async get(h: Handle): Promise<Buffer | undefined> {
    if (!cacheable(h)) return undefined;
    const path = join(this.dir, handlePath(h));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") this.#problem("read", `cannot read ${path} (${describe(err)}); reading it from the repository`);
      this.counters.misses++;
      return undefined;
    }
    if (!this.#matches(h, bytes)) {
      this.counters.damaged++;
      this.counters.misses++;
      this.#problem(`damaged ${path}`, `the cached ${path} does not match its name (hash check failed); deleted it, reading it from the repository`);
      await unlink(path).catch(() => undefined);
      return undefined;
    }
    this.counters.hits++;
    return bytes;
  }

  /** Stores a copy of a repository file, if its bytes match its name; never fails. */
  async put(h: Handle, bytes: Uint8Array): Promise<void> {
    if (!cacheable(h) || !this.#matches(h, bytes)) return;
    const path = join(this.dir, handlePath(h));
    const temp = join(dirname(path), `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(temp, bytes, { mode: 0o600, flag: "wx" });
      await rename(temp, path);
      this.counters.stored++;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      this.#problem("write", `cannot write to the local cache ${this.dir} (${describe(err)}); going on without caching`);
    }
  }

  /** Forgets one file (the repository deleted it). */
  async remove(h: Handle): Promise<void> {
    if (!cacheable(h)) return;
    await unlink(join(this.dir, handlePath(h))).catch(() => undefined);
  }

  /**
   * Deletes the cached files of `type` that are not in `names` (a fresh listing of the
   * repository, or the packs its index names): what prune and forget removed. Also clears
   * temp files that a killed process left behind.
   */
  async keepOnly(type: FileType, names: ReadonlySet<string>): Promise<void> {
    if (!CACHED_TYPES.has(type)) return;
    const top = join(this.dir, typeDir(type));
    // Packs live one level down, in data/<2 hex>/.
    const dirs = type === "data" ? (await this.#names(top)).filter((d) => /^[0-9a-f]{2}$/.test(d)).map((d) => join(top, d)) : [top];
    for (const d of dirs) {
      for (const name of await this.#names(d)) {
        if (names.has(name)) continue;
        const path = join(d, name);
        if (name.startsWith(TEMP_PREFIX)) {
          const st = await stat(path).catch(() => undefined);
          if (st && Date.now() - st.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => undefined);
          continue;
        }
        try {
          await unlink(path);
          this.counters.dropped++;
        } catch (err) {
          if (sysCode(err) !== "ENOENT") this.#problem("remove", `cannot remove ${path} from the local cache (${describe(err)})`);
        }
      }
    }
  }

  async #names(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (sysCode(err) !== "ENOENT") this.#problem("list", `cannot list ${dir} (${describe(err)})`);
      return [];
    }
  }

  #problem(kind: string, message: string): void {
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    this.#onProblem(message);
  }
}

function cacheable(h: Handle): boolean {
  return CACHED_TYPES.has(h.type) && HEX64.test(h.name);
}

async function writeTagOnce(root: string): Promise<void> {
  const path = join(root, "CACHEDIR.TAG");
  const have = await readFile(path, "utf8").catch(() => undefined);
  if (have !== undefined && have.startsWith(CACHEDIR_TAG.slice(0, 43))) return;
  const temp = join(root, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  await writeFile(temp, CACHEDIR_TAG, { mode: 0o644 });
  await rename(temp, path);
}

function describe(err: unknown): string {
  return sysCode(err) ?? (err instanceof Error ? err.message : String(err));
}
