import { createHash } from "node:crypto";
import { CofferError, isCofferError } from "../core/errors.js";
import { type Progress, silentProgress } from "../core/progress.js";
import { type ArchiveProblem, floorSeconds, ManifestChecker, type ReadFile } from "./archive-check.js";
import type { ArchiveFormat } from "./archive-format.js";
import type { ArchiveManifest } from "./archive-manifest.js";
import { type ArchiveItem, openArchive } from "./archive-source.js";

/**
 * `verify-archive`: reads every entry of an archive, re-hashes every file and compares it with
 * the archive's coffer manifest: files missing, extra, of another size or hash, mode or
 * modification time. Damage the format itself shows (a ZIP entry whose CRC-32 fails, a tar
 * that ends early, a broken gzip/zstd stream) is reported with the entry it hits. In a ZIP the
 * entries after a damaged one are still checked; a tar stream cannot be read past damage.
 * An archive without a coffer manifest has its structure checked, and the missing manifest
 * is itself a problem (there is nothing to verify the content against).
 */
export interface VerifyArchiveOptions {
  format?: ArchiveFormat;
  /** The name used in messages (default: the path, or "stdin"). */
  name?: string;
  progress?: Progress;
  signal?: AbortSignal;
}

export interface VerifyArchiveResult {
  archive: string;
  format: ArchiveFormat | undefined;
  /** The manifest's description of the archive, when it has one (without the file list). */
  manifest?: Omit<ArchiveManifest, "files">;
  files: number;
  bytes: number;
  problems: ArchiveProblem[];
  /** Whether every entry was read (false when damage stopped the reading of a tar). */
  complete: boolean;
  ok: boolean;
}

export async function verifyArchive(input: string | AsyncIterable<Uint8Array>, opts: VerifyArchiveOptions = {}): Promise<VerifyArchiveResult> {
  const progress = opts.progress ?? silentProgress;
  const name = opts.name ?? (typeof input === "string" ? input : "stdin");
  const result: VerifyArchiveResult = { archive: name, format: undefined, files: 0, bytes: 0, problems: [], complete: false, ok: false };
  let src;
  try {
    src = await openArchive(input, { ...(opts.format ? { format: opts.format } : {}), name });
  } catch (err) {
    if (!isCofferError(err, "CORRUPT")) throw err;
    result.problems.push(damageProblem(err));
    return result;
  }
  result.format = src.format;
  const checker = new ManifestChecker();
  const files = new Map<string, { size: number; sha256: string }>();
  let complete = true;
  const report = (p: ArchiveProblem[]): void => void result.problems.push(...p);
  try {
    const items = src.items();
    for (;;) {
      if (opts.signal?.aborted) throw new CofferError("INTERRUPTED", "The verification was interrupted.");
      let next: IteratorResult<ArchiveItem>;
      try {
        next = await items.next();
      } catch (err) {
        if (!isCofferError(err, "CORRUPT")) throw err;
        result.problems.push(damageProblem(err));
        complete = false;
        break;
      }
      if (next.done) break;
      const item = next.value;
      try {
        await check(item);
      } catch (err) {
        if (!isCofferError(err, "CORRUPT")) throw err;
        result.problems.push(damageProblem(err, item.path));
        checker.damaged(item.pathBytes);
        if (!src.resumable) {
          complete = false;
          break;
        }
      }
    }
  } finally {
    progress.done();
    await src.close();
  }
  result.complete = complete;
  if (checker.manifest) report(checker.finish());
  else if (complete) {
    result.problems.push({ kind: "no-manifest", message: `${name} has no coffer manifest.json, so its content cannot be verified (its structure is sound: ${result.files} files)` });
  }
  result.ok = result.problems.length === 0;
  return result;

  async function check(item: ArchiveItem): Promise<void> {
    if (item.type === "manifest" && item.manifest) {
      const { files: _files, ...rest } = item.manifest;
      result.manifest = rest;
      report(checker.setManifest(item.manifest));
      return;
    }
    if (item.type === "file") {
      const hash = createHash("sha256");
      let size = 0;
      for await (const c of item.body()) {
        hash.update(c);
        size += c.length;
      }
      const sha256 = hash.digest("hex");
      files.set(item.pathBytes.toString("latin1"), { size, sha256 });
      record(item, size, sha256);
      return;
    }
    if (item.type === "hardlink") {
      const target = item.linkname !== undefined ? files.get(item.linkname.toString("latin1")) : undefined;
      if (target === undefined) {
        throw new CofferError("CORRUPT", `${item.path}: a hard link to ${item.linkname?.toString("utf8") ?? "nothing"}, which is not in the archive before it.`, { path: item.path, damage: "header" });
      }
      files.set(item.pathBytes.toString("latin1"), target);
      record(item, target.size, target.sha256);
    }
  }

  function record(item: ArchiveItem, size: number, sha256: string): void {
    result.files++;
    result.bytes += size;
    const f: ReadFile = { path: item.path, pathBytes: item.pathBytes, size, sha256 };
    if (item.mode !== undefined) f.mode = item.mode;
    if (item.exactTime && item.mtimeNs !== undefined) f.mtimeSec = floorSeconds(item.mtimeNs);
    report(checker.file(f));
    progress.update({ phase: "verify", filesDone: result.files, bytesDone: result.bytes, current: item.path });
  }
}

/** A CORRUPT error as a problem, naming the damaged entry. */
export function damageProblem(err: CofferError, path?: string): ArchiveProblem {
  const where = typeof err.data.path === "string" ? err.data.path : path;
  const kind = err.data.damage === "truncated" ? "truncated" : "damaged";
  return { kind, ...(where !== undefined ? { path: where } : {}), message: `${kind}: ${err.message.replace(/\.$/, "")}` };
}
