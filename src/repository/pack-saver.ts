import type { BlobType } from "./blob.js";
import { indexFileText } from "./index-file.js";
import { LocalFileWriter } from "../backend/local-file-writer.js";
import type { GrowableBytes } from "./growable-bytes.js";
import { checkHeader, HEADER_ENTRY, memoryPack, PackStreamWriter } from "./pack.js";
import type { Repository } from "./repository.js";
import type { UploadCheck } from "./upload-digest.js";

/**
 * Writes packs, then the index files that name them (never the other way round), so a crash
 * leaves at most packs no index names. Blobs packed here (trees, small writes on the main
 * thread) and whole packs built elsewhere (worker threads) go through the same path.
 * An index file is written every `checkpointPacks` packs, or once the packs not yet indexed
 * hold `checkpointBlobs` blobs, so an interrupted backup's packs can be reused by the next
 * one. The blob bound keeps each index file small: an index file is built as one JSON
 * document, and a backup of 40k small blobs into fewer than 32 packs made one file of them
 * all at its end (about 30 MB of the main thread's peak for a moment).
 */
export const CHECKPOINT_BLOBS = 8192;

export class PackSaver {
  /** Other repositories: packs built in memory, one buffer each, then uploaded. */
  #builders = new Map<BlobType, { bytes: GrowableBytes; pack: PackStreamWriter }>();
  /** Local repositories: packs written straight to their files, not held in memory. */
  #streams = new Map<BlobType, { file: LocalFileWriter; pack: PackStreamWriter }>();
  /** Saved packs not yet in an index file, with their entries encoded as in a pack header (an object per blob held thousands of them on the main heap). */
  #unindexed = new Map<string, Buffer>();
  #unindexedBlobs = 0;
  #uploads = new Set<Promise<void>>();
  /** Blobs claimed for packing whose pack is not finished yet (hex ids). */
  #pending = new Set<string>();
  #error: unknown;
  readonly indexFiles: string[] = [];
  bytesAdded = 0;
  blobsAdded = 0;

  constructor(
    private readonly repo: Repository,
    private readonly opts: { checkpointPacks?: number; checkpointBlobs?: number; maxUploads?: number } = {},
  ) {}

  /** Packs one blob unless the repository already has it. Returns its id. */
  async addBlob(type: BlobType, plain: Uint8Array): Promise<Buffer> {
    const id = this.repo.blobId(plain);
    if (!this.claim(id)) return id;
    const enc = this.repo.encodeBlob(plain);
    const root = this.repo.backend.localRoot?.();
    if (root) {
      let st = this.#streams.get(type);
      if (!st) {
        const file = new LocalFileWriter(root, "data");
        st = { file, pack: new PackStreamWriter((b) => file.write(b), this.repo.packHash) };
        this.#streams.set(type, st);
      }
      st.pack.add(type, id, enc.stored, enc.rawLength, enc.compressed);
      if (st.pack.size >= this.repo.config.pack_size) await this.#finishStream(type);
      return id;
    }
    let b = this.#builders.get(type);
    // A pack and a blob beyond it; pages not written to are never resident.
    if (!b) this.#builders.set(type, (b = memoryPack(this.repo.config.pack_size + 1024 * 1024, this.repo.packHash)));
    b.pack.add(type, id, enc.stored, enc.rawLength, enc.compressed);
    if (b.pack.size >= this.repo.config.pack_size) await this.#finish(type);
    return id;
  }

  async #finishStream(type: BlobType): Promise<void> {
    const st = this.#streams.get(type);
    if (!st) return;
    this.#streams.delete(type);
    const p = st.pack.finish(this.repo.crypter);
    st.file.commit(p.id);
    await this.recordSavedPack(p.id, p.size, p.header);
  }

  async #finish(type: BlobType): Promise<void> {
    const b = this.#builders.get(type);
    if (!b) return;
    this.#builders.delete(type);
    const p = b.pack.finish(this.repo.crypter);
    await this.addPack(p.id, b.bytes.view(), p.header, p.check);
  }

  /**
   * Claims a blob for packing: true when neither the repository nor this run has it yet, in
   * which case the caller must pack it (addBlob, or a worker's pack passed to addPack).
   */
  claim(id: Buffer): boolean {
    if (this.repo.index.has(id)) return false;
    const hex = id.toString("hex");
    if (this.#pending.has(hex)) return false;
    this.#pending.add(hex);
    return true;
  }

  /**
   * Uploads a finished pack (in the background, bounded), then indexes it. `header` is its
   * entries encoded as in the pack's header (PackStreamWriter.finish, encodeHeader); `check`
   * the digest the builder took for the upload, if any (see memoryPack). `uploaded` is called
   * once the bytes are saved and no longer used here (the caller may reuse their buffer).
   */
  async addPack(id: string, bytes: Buffer, header: Buffer, check?: UploadCheck, uploaded?: () => void): Promise<void> {
    this.#throwIfFailed();
    const { count, trees } = this.#register(id, header);
    this.bytesAdded += bytes.length;
    while (this.#uploads.size >= this.#maxUploads()) await Promise.race(this.#uploads);
    this.#throwIfFailed();
    const up = this.repo
      .savePack(id, bytes, trees === count ? "tree" : undefined, check)
      .then(async () => {
        uploaded?.();
        await this.#indexLater(id, header, count);
      })
      .catch((err) => {
        this.#error ??= err;
      })
      .finally(() => this.#uploads.delete(up));
    this.#uploads.add(up);
  }

  /** Indexes a pack that was already saved durably elsewhere (a worker thread); `header` as in addPack. */
  async recordSavedPack(id: string, size: number, header: Buffer): Promise<void> {
    this.#throwIfFailed();
    const { count } = this.#register(id, header);
    this.bytesAdded += size;
    await this.#indexLater(id, header, count);
  }

  /**
   * Puts a new pack's blobs in the in-memory index (they are no longer pending), straight from
   * the header's encoded entries; returns how many there are, and how many are trees.
   */
  #register(id: string, header: Buffer): { count: number; trees: number } {
    checkHeader(header, `pack ${id.slice(0, 8)}`);
    const count = this.repo.index.addEncoded(id, header);
    let trees = 0;
    for (let o = 0; o < header.length; o += HEADER_ENTRY) {
      if (header[o] === 1) trees++;
      this.#pending.delete(header.toString("hex", o + 2, o + 34));
    }
    this.blobsAdded += count;
    return { count, trees };
  }

  /** Notes a saved pack for the next index file; writes one at a checkpoint. */
  async #indexLater(id: string, header: Buffer, blobs: number): Promise<void> {
    this.#unindexed.set(id, header);
    this.#unindexedBlobs += blobs;
    if (this.#unindexed.size >= (this.opts.checkpointPacks ?? 32) || this.#unindexedBlobs >= (this.opts.checkpointBlobs ?? CHECKPOINT_BLOBS)) await this.#writeIndex();
  }

  /**
   * Packs uploading at once (each holds its bytes until it is stored). A remote store takes
   * a while per pack: with one at a time, backup workers waited 5 s in all during a 17 s
   * backup into S3 (Ceph on loopback); with two, under half a second, for at most one more
   * pack in memory.
   */
  #maxUploads(): number {
    const b = this.repo.backend.properties;
    return this.opts.maxUploads ?? (b.remote ? Math.min(2, b.connections) : 1);
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  async #writeIndex(): Promise<void> {
    if (this.#unindexed.size === 0) return;
    const packs = [...this.#unindexed];
    this.#unindexed.clear();
    this.#unindexedBlobs = 0;
    const id = await this.repo.saveJsonText("index", indexFileText(packs));
    this.indexFiles.push(id);
    this.repo.index.files.add(id);
  }

  /** Finishes open packs, waits for every upload, and writes the index. */
  async flush(): Promise<void> {
    for (const type of [...this.#streams.keys()]) await this.#finishStream(type);
    for (const type of [...this.#builders.keys()]) await this.#finish(type);
    while (this.#uploads.size > 0) await Promise.race(this.#uploads);
    this.#throwIfFailed();
    await this.#writeIndex();
  }

  /** Waits for uploads in flight without writing anything more (after a failure). */
  async abandon(): Promise<void> {
    for (const st of this.#streams.values()) st.file.abort();
    this.#streams.clear();
    while (this.#uploads.size > 0) await Promise.race(this.#uploads);
  }
}
