import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { throughTransform } from "../snapshot/stream-transform.js";
import { readTar, type TarReadEntry } from "../snapshot/tar-reader.js";
import { ZipReader, type ZipReadEntry } from "../snapshot/zip-reader.js";
import { type ArchiveFormat, decompressor, detectFormat, formatFromName } from "./archive-format.js";
import { type ArchiveManifest, MANIFEST_NAME, parseManifest } from "./archive-manifest.js";

/**
 * Any archive `import` and `verify-archive` read, as one sequence of entries: a ZIP file
 * (through its central directory) or a tar stream, plain, gzip or zstd. The format is
 * recognised by the first bytes (the name's extension only breaks a tie).
 *
 * Paths are normalized: no leading "/" or "./", no trailing "/". A top-level
 * `manifest.json` that is a coffer manifest comes as an item of type "manifest" (from a ZIP
 * before every other entry, from a tar where it is); any other manifest.json is a file.
 */
export type ArchiveItemType = "file" | "dir" | "symlink" | "hardlink" | "other" | "manifest";

export interface ArchiveItem {
  type: ArchiveItemType;
  path: string;
  pathBytes: Buffer;
  size: number;
  mode?: number;
  mtimeNs?: bigint;
  /** Whether `mtimeNs` is exact to the second (tar, ZIP with an extended timestamp). */
  exactTime: boolean;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** A symlink's target; a hard link's target path (normalized). */
  linkname?: Buffer;
  /** For "manifest" items. */
  manifest?: ArchiveManifest;
  /** A file's content, checked by the format (ZIP: CRC-32; tar: length). Read it once. */
  body(): AsyncIterable<Buffer>;
}

export interface ArchiveSource {
  format: ArchiveFormat;
  /** What the archive is called in messages. */
  name: string;
  /** Whether items after a damaged one can still be read (ZIP: entries are independent). */
  resumable: boolean;
  items(): AsyncGenerator<ArchiveItem>;
  close(): Promise<void>;
}

export interface OpenArchiveOptions {
  /** Force a format instead of recognising it. */
  format?: ArchiveFormat;
  /** The name used in messages (default: the path, or "stdin"). */
  name?: string;
}

/** Manifests larger than this are taken for ordinary files (a coffer manifest is ~150 bytes per file). */
const MANIFEST_LIMIT = 1 << 30;

/** Opens an archive file, or a tar stream (`input` an async iterable of bytes, e.g. stdin). */
export async function openArchive(input: string | AsyncIterable<Uint8Array>, opts: OpenArchiveOptions = {}): Promise<ArchiveSource> {
  if (typeof input === "string") {
    const name = opts.name ?? input;
    const format = opts.format ?? (await sniffFile(input)) ?? formatFromName(input);
    if (format === undefined) throw new CofferError("UNSUPPORTED", `${name} is neither a ZIP nor a tar archive (plain, gzip or zstd).`);
    if (format === "zip") return zipSource(await ZipReader.open(input), name);
    return tarSource(createReadStream(input, { highWaterMark: 1 << 20 }), format, name);
  }
  const name = opts.name ?? "stdin";
  const { head, rest } = await peek(input, 512);
  const format = opts.format ?? detectFormat(head);
  if (format === undefined) throw new CofferError("UNSUPPORTED", `${name} is not a tar archive (plain, gzip or zstd).`);
  if (format === "zip") throw new CofferError("USAGE", `${name} is a ZIP archive, which is read from its end: give it as a file, not as a stream.`);
  return tarSource(rest, format, name);
}

async function sniffFile(path: string): Promise<ArchiveFormat | undefined> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("NOT_FOUND", `There is no file ${path}.`, { path });
    throw ioError(err, `opening ${path}`);
  }
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    return detectFormat(b.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** The first `n` bytes of a stream (fewer if it is shorter), and the whole stream again. */
async function peek(input: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Uint8Array> }> {
  const it = input[Symbol.asyncIterator]();
  const got: Uint8Array[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    got.push(r.value);
    len += r.value.length;
  }
  const rest = (async function* (): AsyncGenerator<Uint8Array> {
    yield* got;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  return { head: Buffer.concat(got), rest };
}

function zipSource(zip: ZipReader, name: string): ArchiveSource {
  return {
    format: "zip",
    name,
    resumable: true,
    async *items() {
      const manifestEntry = zip.entries.find((e) => e.name === MANIFEST_NAME && e.type === "file" && e.size <= MANIFEST_LIMIT);
      let manifestBytes: Buffer | undefined;
      if (manifestEntry) {
        manifestBytes = await zip.readAll(manifestEntry);
        const manifest = parseManifest(manifestBytes);
        if (manifest) yield { ...zipItem(zip, manifestEntry), type: "manifest", manifest };
        else manifestBytes = undefined;
      }
      for (const e of zip.entries) {
        if (e === manifestEntry && manifestBytes !== undefined) continue;
        const item = zipItem(zip, e);
        if (item.path === "") continue;
        if (e.type === "symlink") item.linkname = await zip.readAll(e, 1 << 20);
        yield item;
      }
    },
    close: () => zip.close(),
  };
}

function zipItem(zip: ZipReader, e: ZipReadEntry): ArchiveItem {
  const pathBytes = normalize(e.nameBytes);
  const item: ArchiveItem = {
    type: e.type,
    path: decode(pathBytes),
    pathBytes,
    size: e.type === "file" ? e.size : 0,
    mtimeNs: e.mtimeNs,
    exactTime: e.exactTime,
    body: () => zip.read(e),
  };
  if (e.mode !== undefined) item.mode = e.mode;
  if (e.uid !== undefined) item.uid = e.uid;
  if (e.gid !== undefined) item.gid = e.gid;
  return item;
}

function tarSource(raw: AsyncIterable<Uint8Array> & { destroy?: () => void }, format: ArchiveFormat, name: string): ArchiveSource {
  const t = decompressor(format);
  const bytes = t ? throughTransform(raw, t) : raw;
  return {
    format,
    name,
    resumable: false,
    async *items() {
      for await (const { entry, body } of readTar(bytes)) {
        const item = tarItem(entry, body);
        if (item.path === "") continue;
        if (item.path === MANIFEST_NAME && item.type === "file" && item.size <= MANIFEST_LIMIT) {
          const parts: Buffer[] = [];
          for await (const c of body) parts.push(Buffer.from(c));
          const data = Buffer.concat(parts);
          const manifest = parseManifest(data);
          if (manifest) yield { ...item, type: "manifest", manifest };
          else yield { ...item, body: async function* () { yield data; } };
          continue;
        }
        yield item;
      }
    },
    close: async () => {
      raw.destroy?.();
    },
  };
}

function tarItem(e: TarReadEntry, body: AsyncIterable<Buffer>): ArchiveItem {
  const pathBytes = normalize(e.pathBytes);
  const type = e.type === "file" || e.type === "dir" || e.type === "symlink" || e.type === "hardlink" ? e.type : "other";
  const item: ArchiveItem = {
    type,
    path: decode(pathBytes),
    pathBytes,
    size: type === "file" ? e.size : 0,
    mode: e.mode,
    mtimeNs: e.mtimeNs,
    exactTime: true,
    uid: e.uid,
    gid: e.gid,
    body: () => body,
  };
  if (e.uname) item.uname = e.uname;
  if (e.gname) item.gname = e.gname;
  if (e.linkname) item.linkname = type === "hardlink" ? normalize(e.linkname) : e.linkname;
  return item;
}

/** Without leading "/" and "./", trailing "/", and "." components. */
export function normalize(p: Buffer): Buffer {
  const parts = p
    .toString("latin1")
    .split("/")
    .filter((c) => c !== "" && c !== ".");
  return Buffer.from(parts.join("/"), "latin1");
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function decode(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString("latin1");
  }
}
