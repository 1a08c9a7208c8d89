import type { FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGzip, gzip } from "node:zlib";
import zstd from "zstd-napi";
import { sysCode } from "../core/errors.js";
import { COMPRESSED_EXT } from "./rotated-name.js";
import { fsyncDir, tempPath, type RotateFs } from "./rotate-fs.js";

export interface CompressResult {
  /** `changed`: the file was written to while it was compressed, so it was left as it was; `exists`: the compressed name was taken. */
  status: "compressed" | "changed" | "exists";
  to: string;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Compresses `path` to `path.gz` or `path.zst` without ever losing it: the compressed data goes
 * to a temporary file that is fsynced, then linked to its name (never replacing a file), and
 * only then is the original removed — and only if it is still the same, unchanged file. A full
 * disk or any other failure removes the temporary file and leaves the original where it was;
 * the error is thrown for the caller to report. Mode, owner and times are carried over.
 */
export async function compressFile(fs: RotateFs, path: string, how: "gzip" | "zstd", level?: number): Promise<CompressResult> {
  const to = path + COMPRESSED_EXT[how];
  const before = await fs.lstat(path);
  if (await taken(fs, to)) return { status: "exists", to, bytesIn: 0, bytesOut: 0 };
  const tmp = tempPath(dirname(to), basename(to));
  const input = await fs.open(path, "r");
  let out: FileHandle | undefined;
  try {
    const opened = await input.stat();
    if (opened.ino !== before.ino || opened.dev !== before.dev) return { status: "changed", to, bytesIn: 0, bytesOut: 0 };
    out = await fs.open(tmp, "wx", before.mode & 0o777);
    let bytesIn = 0;
    let bytesOut = 0;
    const sink = out;
    if (opened.size <= ONE_SHOT) {
      // Most rotated logs are small: one buffer, one call, instead of a stream per file.
      const plain = await readUpTo(input, opened.size);
      bytesIn = plain.length;
      const packed = how === "gzip" ? await gzipAsync(plain, level === undefined ? {} : { level }) : zstdOneShot(plain, level);
      await writeAll(sink, packed);
      bytesOut = packed.length;
    } else {
      await pipeline(
        Readable.from(readAll(input, (n) => (bytesIn += n))),
        how === "gzip" ? createGzip(level === undefined ? {} : { level }) : new zstd.CompressStream(level === undefined ? {} : { compressionLevel: level }),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            writeAll(sink, chunk).then(() => {
              bytesOut += chunk.length;
              cb();
            }, cb);
          },
        }),
      );
    }
    await out.chmod(before.mode & 0o7777);
    await out.chown(before.uid, before.gid).catch(() => {});
    await out.sync();
    await out.close();
    out = undefined;
    await fs.utimes(tmp, before.atime, before.mtime);
    const after = await input.stat();
    if (after.size !== bytesIn || after.mtimeMs !== before.mtimeMs) return { status: "changed", to, bytesIn, bytesOut };
    try {
      await fs.link(tmp, to);
    } catch (err) {
      if (sysCode(err) === "EEXIST") return { status: "exists", to, bytesIn, bytesOut };
      throw err;
    }
    await fsyncDir(fs, dirname(to));
    const still = await fs.lstat(path);
    if (still.ino !== before.ino || still.dev !== before.dev || still.size !== bytesIn) {
      // Replaced or appended to at the last moment: the original stays, whole; the compressed one goes.
      await fs.unlink(to);
      return { status: "changed", to, bytesIn, bytesOut };
    }
    // The compressed copy is durable under its name; if a crash undoes this unlink, the original
    // comes back beside it and a later run reports the pair (nothing is lost).
    await fs.unlink(path);
    return { status: "compressed", to, bytesIn, bytesOut };
  } finally {
    await out?.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    await input.close().catch(() => {});
  }
}

/** Files up to this size are compressed in one call. */
const ONE_SHOT = 4 * 1024 * 1024;
const gzipAsync = promisify(gzip);

function zstdOneShot(plain: Buffer, level: number | undefined): Buffer {
  const c = new zstd.Compressor();
  if (level !== undefined) c.setParameters({ compressionLevel: level });
  return c.compress(plain);
}

/** The first `size` bytes (fewer if the file is shorter); what is appended later is caught by the size check. */
async function readUpTo(fh: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, pos, size - pos, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
  }
  return buf.subarray(0, pos);
}

async function* readAll(fh: FileHandle, count: (n: number) => void): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(1 << 20);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    count(bytesRead);
    yield buf.subarray(0, bytesRead);
  }
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

async function taken(fs: RotateFs, p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (sysCode(err) === "ENOENT") return false;
    throw err;
  }
}
