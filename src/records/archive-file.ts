import { createHash } from "node:crypto";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { escape } from "../rotate/date-format.js";
import { formatStamp, parseStamp, STAMP_PATTERN } from "../rotate/name-stamp.js";
import type { RotateFs } from "../rotate/rotate-fs.js";

/** The archive format's version, in `metadata.version`. */
export const ARCHIVE_VERSION = 1;

/**
 * An archive file, `{stem}_archive_{YYYYMMDD_HHMMSS}[_N].json` (local time of the run; `_N` when
 * that name is taken):
 *
 * ```json
 * { "metadata": { "version": 1, "archived_date": "2026-11-20T12:00:00.000Z", "total_records": 2,
 *                 "date_range": { "oldest": "…", "newest": "…" }, "source": "sent_messages.json",
 *                 "time_field": "timestamp", "older_than": "365d", "cutoff": "…" },
 *   "records": [ … ] }
 * ```
 * The records are the moved ones, in their order in the live file.
 */
export interface ArchiveMetadata {
  version: number;
  archived_date: string;
  total_records: number;
  date_range: { oldest: string | null; newest: string | null };
  source: string;
  time_field: string;
  older_than: string;
  cutoff: string;
}

export interface ArchiveDocument {
  metadata: ArchiveMetadata;
  records: unknown[];
}

export function archiveName(stem: string, now: Date, counter: number): string {
  return `${stem}_archive_${formatStamp(now, "compact")}${counter > 0 ? `_${counter}` : ""}.json`;
}

export const ARCHIVE_NAME_RE = new RegExp(`^(?<stem>.+)_archive_(?<stamp>${STAMP_PATTERN.compact})(?:_(?<n>\\d+))?\\.json$`);

/** An archive file's stem, the time its name says, and its counter; undefined for other names. */
export function parseArchiveName(name: string, stem?: string): { stem: string; named: Date; counter: number } | undefined {
  const g = ARCHIVE_NAME_RE.exec(name)?.groups;
  const named = g ? parseStamp(g.stamp as string) : undefined;
  if (!g || !named || (stem !== undefined && g.stem !== stem)) return undefined;
  return { stem: g.stem as string, named, counter: Number(g.n ?? 0) };
}

/** Archive names of `stem` in `dir`, any order. */
export async function archiveNames(fs: RotateFs, dir: string, stem: string): Promise<string[]> {
  try {
    const re = new RegExp(`^${escape(stem)}_archive_`);
    return (await fs.readdir(dir)).filter((n) => re.test(n) && parseArchiveName(n, stem) !== undefined);
  } catch (err) {
    if (sysCode(err) === "ENOENT") return [];
    throw ioError(err, `listing ${dir}`);
  }
}

/** The first free archive name for this run (a taken one, from a run in the same second or a clock set back, gets a counter). */
export function freeArchiveName(taken: ReadonlySet<string>, stem: string, now: Date, from = 0): { name: string; counter: number } {
  for (let counter = from; ; counter++) {
    const name = archiveName(stem, now, counter);
    if (!taken.has(name)) return { name, counter };
  }
}

/** A record's identity for deduplication: SHA-256 of its JSON text, 32 hex digits. */
export function recordHash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value) ?? "null").digest("hex").slice(0, 32);
}

export function archiveText(doc: ArchiveDocument, indent: string | number): string {
  return JSON.stringify(doc, null, indent) + "\n";
}

/** Reads an archive file written by `archiveRecords`; CORRUPT when it is not one. */
export async function readArchive(fs: RotateFs, path: string): Promise<ArchiveDocument> {
  let text: string;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (err) {
    throw ioError(err, `reading the archive ${path}`);
  }
  try {
    const doc = JSON.parse(text) as ArchiveDocument;
    if (typeof doc?.metadata === "object" && Array.isArray(doc.records)) return doc;
  } catch {
    // reported below
  }
  throw new CofferError("CORRUPT", `${path} is not a record archive (no metadata and records); it was left as it is.`, { path });
}
