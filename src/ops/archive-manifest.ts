import { CofferError } from "../core/errors.js";

/**
 * `manifest.json`, the table of contents coffer writes into every export (format
 * "coffer-export", version 1; docs/export.md is the reference). It is the LAST entry of the
 * archive: its SHA-256 values are computed from the bytes as they are written, so an export
 * reads every blob once. ZIP readers find it through the central directory; coffer's tar
 * reader takes it wherever it is.
 *
 * `files` lists regular files (hard links included) by their path in the archive, with size,
 * SHA-256, mode (octal text) and modification time (ISO-8601 with nanoseconds); a path that is
 * not valid UTF-8 also has `path_raw` (base64 of its bytes). Directories and symlinks are in
 * the archive but not in `files`.
 */
export const MANIFEST_NAME = "manifest.json";
export const MANIFEST_FORMAT = "coffer-export";
export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  path: string;
  path_raw?: string;
  size: number;
  sha256: string;
  /** Permission bits in octal, "0644". */
  mode: string;
  mtime: string;
}

export interface ManifestSnapshot {
  id: string;
  time: string;
  hostname: string;
  username: string | null;
  paths: string[];
  tags: string[];
  kind: string;
  label: string | null;
  description: string | null;
}

export interface ManifestTotals {
  files: number;
  /** Bytes of file content (hard links counted each time). */
  bytes: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Entries left out: types an archive cannot hold (sockets, devices, FIFOs). */
  skipped: number;
}

export interface ArchiveManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  snapshot: ManifestSnapshot;
  /** The program that wrote the archive ("coffer 0.1.0"). */
  program: string;
  /** The host the archive was written on. */
  host: string;
  created: string;
  included: {
    /** The path of the snapshot that was exported ("/" for all of it). */
    path: string;
    /** The snapshot directory archive paths are relative to: "app/a.txt" is `${base}/app/a.txt`. */
    base: string;
    include: string[];
    exclude: string[];
  };
  files: ManifestFile[];
  totals: ManifestTotals;
}

export type ManifestHead = Omit<ArchiveManifest, "files" | "totals">;

/**
 * Collects the file list while an export runs and encodes the manifest at the end: the head
 * indented, one file per line. Lines are kept as JSON text (about 150 bytes per file).
 */
export class ManifestBuilder {
  #lines: string[] = [];
  readonly totals: ManifestTotals = { files: 0, bytes: 0, dirs: 0, symlinks: 0, hardlinks: 0, skipped: 0 };

  addFile(f: ManifestFile): void {
    this.#lines.push(JSON.stringify(f));
    this.totals.files++;
    this.totals.bytes += f.size;
  }

  encode(head: ManifestHead): Buffer {
    const marker = "\u0000files\u0000";
    const text = JSON.stringify({ ...head, files: marker, totals: this.totals }, null, 2);
    const files = this.#lines.length === 0 ? "[]" : `[\n    ${this.#lines.join(",\n    ")}\n  ]`;
    return Buffer.from(text.replace(JSON.stringify(marker), () => files) + "\n");
  }
}

/**
 * The manifest in `bytes`, or undefined when they are not a coffer manifest (any other
 * manifest.json). A coffer manifest that does not hold together is CORRUPT; a newer version
 * is UNSUPPORTED.
 */
export function parseManifest(bytes: Uint8Array): ArchiveManifest | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || (doc as { format?: unknown }).format !== MANIFEST_FORMAT) return undefined;
  const m = doc as ArchiveManifest;
  if (m.version !== MANIFEST_VERSION) {
    throw new CofferError("UNSUPPORTED", `The archive's manifest has version ${String(m.version)}; this coffer reads version ${MANIFEST_VERSION}. Upgrade coffer.`);
  }
  const bad = (why: string): never => {
    throw new CofferError("CORRUPT", `The archive's manifest.json is damaged: ${why}.`, { path: MANIFEST_NAME, damage: "manifest" });
  };
  if (!Array.isArray(m.files)) bad("it has no file list");
  if (typeof m.snapshot !== "object" || m.snapshot === null || !Array.isArray(m.snapshot.paths)) bad("it has no snapshot");
  if (typeof m.included !== "object" || m.included === null || typeof m.included.base !== "string") bad("it does not say what it includes");
  for (const f of m.files) {
    if (typeof f !== "object" || f === null || typeof f.path !== "string" || !Number.isSafeInteger(f.size) || f.size < 0 || typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      bad(`a file entry is malformed (${JSON.stringify(f).slice(0, 120)})`);
    }
  }
  return m;
}

/** The bytes of a manifest file's path. */
export function manifestPathBytes(f: Pick<ManifestFile, "path" | "path_raw">): Buffer {
  return f.path_raw !== undefined ? Buffer.from(f.path_raw, "base64") : Buffer.from(f.path, "utf8");
}

/** "0644" from permission bits. */
export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
