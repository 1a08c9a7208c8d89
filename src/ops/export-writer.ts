import { once } from "node:events";
import type { Transform } from "node:stream";
import { CofferError } from "../core/errors.js";
import { type TarEntry, TarWriter } from "../snapshot/tar-writer.js";
import { ZipWriter } from "../snapshot/zip-writer.js";
import { type ArchiveFormat, compressor } from "./archive-format.js";

/**
 * One writer for every export format: ZIP, or tar (plain, gzip, zstd), onto a byte sink with
 * backpressure. Entries carry what both formats can hold: path, mode, owner, mtime; hard links
 * become tar hard links and, in a ZIP (which has none), a second copy of the content.
 */
export interface ByteSink {
  write(chunk: Buffer): void | Promise<void>;
}

export interface ExportEntry {
  /** Relative path in the archive. */
  name: Buffer;
  mode: number;
  mtimeNs: bigint;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
}

export interface ArchiveWriter {
  dir(e: ExportEntry): Promise<void>;
  file(e: ExportEntry, size: number, body: AsyncIterable<Uint8Array> | Uint8Array): Promise<void>;
  symlink(e: ExportEntry, target: Buffer): Promise<void>;
  /** A hard link to an earlier entry; false when the format has none (write the file again). */
  hardlink(e: ExportEntry, target: Buffer): Promise<boolean>;
  /** Ends the archive; returns its size in bytes. The sink is not closed. */
  finish(): Promise<number>;
}

export interface ArchiveWriterOptions {
  /** ZIP: 0 (store) to 9, default 6; gzip: 1 to 9, default 6; zstd: 1 to 19, default 3. */
  level?: number;
  forceZip64?: boolean;
}

export function archiveWriter(format: ArchiveFormat, out: ByteSink, opts: ArchiveWriterOptions = {}): ArchiveWriter {
  let bytes = 0;
  const counted: ByteSink = {
    write(chunk) {
      bytes += chunk.length;
      return out.write(chunk);
    },
  };
  if (format === "zip") {
    const zip = new ZipWriter(counted, { ...(opts.level !== undefined ? { level: opts.level } : {}), ...(opts.forceZip64 ? { forceZip64: true } : {}) });
    const base = (e: ExportEntry) => ({ name: e.name, mode: e.mode, mtimeNs: e.mtimeNs, ...(e.uid !== undefined ? { uid: e.uid } : {}), ...(e.gid !== undefined ? { gid: e.gid } : {}) });
    return {
      dir: async (e) => void (await zip.add({ ...base(e), type: "dir" })),
      file: async (e, size, body) => void (await zip.add({ ...base(e), type: "file", size }, body)),
      symlink: async (e, target) => void (await zip.add({ ...base(e), type: "symlink", linkname: target })),
      hardlink: async () => false,
      finish: async () => {
        await zip.finish();
        return bytes;
      },
    };
  }
  const t = compressor(format, opts.level);
  const pipe = t ? compressInto(counted, t) : { sink: counted, end: async () => undefined };
  const tar = new TarWriter(pipe.sink);
  const header = (e: ExportEntry): Omit<TarEntry, "type"> => {
    const h: Omit<TarEntry, "type"> = { path: e.name, mode: e.mode, mtimeNs: e.mtimeNs, uid: e.uid ?? 0, gid: e.gid ?? 0 };
    if (e.uname !== undefined) h.uname = e.uname;
    if (e.gname !== undefined) h.gname = e.gname;
    return h;
  };
  return {
    dir: (e) => tar.add({ ...header(e), type: "dir" }),
    file: (e, size, body) => tar.add({ ...header(e), type: "file", size }, body),
    symlink: (e, target) => tar.add({ ...header(e), type: "symlink", linkname: target }),
    hardlink: async (e, target) => {
      await tar.add({ ...header(e), type: "hardlink", linkname: target, size: 0 });
      return true;
    },
    finish: async () => {
      await tar.finish();
      await pipe.end();
      return bytes;
    },
  };
}

/** A sink that compresses through `t` into `out`, waiting for both. */
function compressInto(out: ByteSink, t: Transform): { sink: ByteSink; end(): Promise<void> } {
  let failure: unknown;
  const pump = (async () => {
    for await (const c of t) await out.write(c as Buffer);
  })();
  pump.catch((err: unknown) => {
    failure ??= err;
    t.destroy();
  });
  const failed = pump.then(
    () => {
      throw new CofferError("INVALID", "The compressor stopped before the archive was finished.");
    },
    (err: unknown) => {
      throw err;
    },
  );
  failed.catch(() => undefined);
  return {
    sink: {
      async write(chunk) {
        if (failure !== undefined) throw failure;
        if (t.write(chunk)) return;
        const stop = new AbortController();
        try {
          const drained = once(t, "drain", { signal: stop.signal });
          drained.catch(() => undefined);
          await Promise.race([drained, failed]);
        } finally {
          stop.abort();
        }
      },
    },
    async end() {
      if (failure !== undefined) throw failure;
      t.end();
      await pump;
    },
  };
}
