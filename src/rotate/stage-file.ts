import type { FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { sysCode } from "../core/errors.js";
import { durableCopy } from "./move-file.js";
import { fsyncDir, isTempName, tempPath, type RotateFs } from "./rotate-fs.js";

/** What a staged file holds: bytes, or a copy of another file. */
export type StageSource = { data: string | Uint8Array } | { copyOf: string | FileHandle };

export interface StageOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
}

/**
 * A complete, fsynced file under a temporary name, waiting to be published under its real
 * name. Publishing is a hard link, so it never replaces a file: two writers that want the same
 * name both try, one wins, the other gets `false` and tries its next name (the counter of a
 * dated name). A crash leaves at most a hidden temporary file (`sweepTemps` removes it), never a
 * half-written file under a real name.
 */
export interface StagedFile {
  readonly tmp: string;
  readonly bytes: number;
  /** Links the file to `path` (same directory as the stage); false when `path` exists. */
  publish(path: string): Promise<boolean>;
  /** Removes the temporary name; call it once the file is published or given up. */
  discard(): Promise<void>;
}

export async function stageFile(fs: RotateFs, dir: string, name: string, source: StageSource, opts: StageOptions = {}): Promise<StagedFile> {
  const tmp = tempPath(dir, name);
  const mode = opts.mode ?? 0o644;
  let bytes: number;
  if ("copyOf" in source) {
    bytes = await durableCopy(fs, source.copyOf, tmp, { mode, ...(opts.uid !== undefined ? { uid: opts.uid } : {}), ...(opts.gid !== undefined ? { gid: opts.gid } : {}), ...(opts.mtime ? { mtime: opts.mtime } : {}) });
  } else {
    bytes = await writeNew(fs, tmp, source.data, opts);
  }
  return {
    tmp,
    bytes,
    async publish(path) {
      try {
        await fs.link(tmp, path);
      } catch (err) {
        if (sysCode(err) === "EEXIST") return false;
        throw err;
      }
      await fsyncDir(fs, dirname(path));
      return true;
    },
    async discard() {
      await fs.unlink(tmp).catch(() => {});
    },
  };
}

/** Writes `data` into the new file `path` (which must not exist) and fsyncs it; a failure leaves no file. */
async function writeNew(fs: RotateFs, path: string, data: string | Uint8Array, opts: StageOptions): Promise<number> {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(path, "wx", opts.mode ?? 0o644);
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
    if (opts.mode !== undefined) await fh.chmod(opts.mode);
    if (opts.uid !== undefined && opts.gid !== undefined) await fh.chown(opts.uid, opts.gid).catch(() => {});
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (opts.mtime) await fs.utimes(path, opts.mtime, opts.mtime);
  } catch (err) {
    await fh?.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
    throw err;
  }
  return buf.length;
}

export interface AtomicWriteOptions extends StageOptions {
  /**
   * Runs once the new content is durable under its temporary name, just before the rename:
   * the last moment to refuse (throw) with nothing changed. The temporary file is then removed.
   */
  beforeRename?: () => Promise<void> | void;
}

/**
 * Replaces `path` with `data` so that a crash leaves the old content or the new one, never a
 * mix: temporary file, fsync, rename, fsync of the directory. Errors are thrown as they come
 * (the caller words them); the temporary file never stays behind.
 */
export async function writeFileAtomic(fs: RotateFs, path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPath(dir, basename(path));
  try {
    await writeNew(fs, tmp, data, opts);
    await opts.beforeRename?.();
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(fs, dir);
}

/**
 * Removes temporary files (`.NAME.coffer-tmp-PID-…`) of `name` in `dir` left by a process that
 * no longer runs. Those of a live process are its work in progress and stay.
 */
export async function sweepTemps(fs: RotateFs, dir: string, name: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const prefix = `.${name}.coffer-tmp-`;
  const removed: string[] = [];
  for (const n of names) {
    if (!isTempName(n) || !n.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(n.slice(prefix.length))?.[1]);
    if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && alive(pid))) continue;
    const p = `${dir}/${n}`;
    if (await fs.unlink(p).then(() => true, () => false)) removed.push(p);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return sysCode(err) === "EPERM";
  }
}
