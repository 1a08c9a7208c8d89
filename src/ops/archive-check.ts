import { type ArchiveManifest, type ManifestFile, manifestPathBytes, modeText } from "./archive-manifest.js";

/**
 * What differs between an archive and its manifest, for `verify-archive` and `import`. Files
 * can be reported before the manifest is known (a tar whose manifest is its last entry): they
 * are remembered and checked when it comes. `finish` adds the files the manifest lists that
 * never came.
 */
export type ArchiveProblemKind =
  | "missing" // listed in the manifest, not in the archive
  | "extra" // a file in the archive the manifest does not list
  | "size" // sizes differ
  | "hash" // same size, different SHA-256
  | "mode" // permission bits differ
  | "mtime" // modification times differ (to the second)
  | "damaged" // an entry cannot be read back (CRC, compressed data, header)
  | "truncated" // the archive ends early
  | "no-manifest"; // not a coffer archive: nothing to verify the content against

export interface ArchiveProblem {
  kind: ArchiveProblemKind;
  path?: string;
  expected?: string | number;
  actual?: string | number;
  message: string;
}

/** A file as read from an archive. */
export interface ReadFile {
  path: string;
  pathBytes: Buffer;
  size: number;
  sha256: string;
  /** Permission bits, when the archive has them. */
  mode?: number;
  /** Whole seconds, when the archive keeps them exactly. */
  mtimeSec?: bigint;
}

export class ManifestChecker {
  #expected: Map<string, ManifestFile> | undefined;
  #early: ReadFile[] = [];
  #seen = new Set<string>();

  get manifest(): boolean {
    return this.#expected !== undefined;
  }

  /** The manifest's files; returns the problems of files read before it. */
  setManifest(m: ArchiveManifest): ArchiveProblem[] {
    this.#expected = new Map(m.files.map((f) => [key(manifestPathBytes(f)), f]));
    const early = this.#early;
    this.#early = [];
    return early.flatMap((f) => this.file(f));
  }

  /** The manifest's entry for a path, once the manifest is known. */
  expected(pathBytes: Buffer): ManifestFile | undefined {
    return this.#expected?.get(key(pathBytes));
  }

  /** Checks one file against the manifest (now, or when the manifest comes). */
  file(f: ReadFile): ArchiveProblem[] {
    if (this.#expected === undefined) {
      this.#early.push(f);
      return [];
    }
    const k = key(f.pathBytes);
    this.#seen.add(k);
    const want = this.#expected.get(k);
    if (want === undefined) return [{ kind: "extra", path: f.path, message: `extra: ${f.path} is in the archive but not in the manifest` }];
    if (want.size !== f.size) {
      return [{ kind: "size", path: f.path, expected: want.size, actual: f.size, message: `size: ${f.path} has ${f.size} bytes; the manifest says ${want.size}` }];
    }
    if (want.sha256 !== f.sha256) {
      return [{ kind: "hash", path: f.path, expected: want.sha256, actual: f.sha256, message: `hash: ${f.path} has SHA-256 ${f.sha256}; the manifest says ${want.sha256}` }];
    }
    const out: ArchiveProblem[] = [];
    if (f.mode !== undefined && typeof want.mode === "string" && Number.parseInt(want.mode, 8) !== (f.mode & 0o7777)) {
      out.push({ kind: "mode", path: f.path, expected: want.mode, actual: modeText(f.mode), message: `mode: ${f.path} has mode ${modeText(f.mode)}; the manifest says ${want.mode}` });
    }
    const wantSec = typeof want.mtime === "string" ? isoSeconds(want.mtime) : undefined;
    if (f.mtimeSec !== undefined && wantSec !== undefined && wantSec !== f.mtimeSec) {
      const actual = new Date(Number(f.mtimeSec) * 1000).toISOString();
      out.push({ kind: "mtime", path: f.path, expected: want.mtime, actual, message: `mtime: ${f.path} was modified ${actual}; the manifest says ${want.mtime}` });
    }
    return out;
  }

  /** A file that is in the archive but could not be read: reported as damaged, not as missing. */
  damaged(pathBytes: Buffer): void {
    this.#seen.add(key(pathBytes));
    this.#early = this.#early.filter((f) => !f.pathBytes.equals(pathBytes));
  }

  /** The files the manifest lists that were not seen. */
  finish(): ArchiveProblem[] {
    if (this.#expected === undefined) return [];
    const out: ArchiveProblem[] = [];
    for (const [k, f] of this.#expected) {
      if (!this.#seen.has(k)) out.push({ kind: "missing", path: f.path, expected: f.sha256, message: `missing: ${f.path} is in the manifest but not in the archive` });
    }
    return out;
  }
}

function key(b: Buffer): string {
  return b.toString("latin1");
}

/** Whole seconds of an ISO-8601 time with up to nanoseconds (floor). */
export function isoSeconds(iso: string): bigint | undefined {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(Math.floor(ms / 1000));
}

/** Whole seconds (floor) of nanoseconds since the epoch. */
export function floorSeconds(ns: bigint): bigint {
  const q = ns / 1_000_000_000n;
  return ns % 1_000_000_000n !== 0n && ns < 0n ? q - 1n : q;
}
