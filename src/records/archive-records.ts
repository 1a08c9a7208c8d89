import { basename, dirname, extname, join, resolve } from "node:path";
import { CofferError, ioError, isCofferError, sysCode } from "../core/errors.js";
import { applyPolicy, checkPolicy, parseDuration, type RetentionItem } from "../retention/index.js";
import { formatStamp } from "../rotate/name-stamp.js";
import { fsyncDir, nodeRotateFs, type RotateFs } from "../rotate/rotate-fs.js";
import { stageFile, type StagedFile, writeFileAtomic } from "../rotate/stage-file.js";
import { archiveNames, archiveText, ARCHIVE_VERSION, freeArchiveName, parseArchiveName, recordHash, type ArchiveDocument } from "./archive-file.js";
import { journalPath, readJournal, recoverInterrupted, removeJournal, writeJournal } from "./journal.js";
import { chooseFormat, parseRecordText, type FormatChoice, type RecordFormat } from "./record-file.js";
import { checkUnchanged, readLive } from "./live-file.js";
import { getField, parseFieldPath, parseRecordTime } from "./record-time.js";
import { lockRecords } from "./records-lock.js";
import type { RecordsWarningSink } from "./records-warning.js";

/** The points of a run, in order; `onStep` is called at each (crash tests stop the process there). */
export type ArchiveStep = "locked" | "recovery-rewritten" | "recovered" | "journal-written" | "archive-staged" | "archive-published" | "live-staged" | "live-replaced" | "journal-removed";

export interface ArchiveRecordsOptions {
  /** Path of the time in each record, keys joined by dots: `timestamp`, `meta.sent_at`. */
  timeField: string;
  /** Records older than this (a duration: `365d`, `1y`) move to the archive. */
  olderThan: string;
  /** Default `archives` next to the file; relative: to the file's folder. */
  archiveDir?: string;
  now?: Date;
  /** The records are the array under this key of a JSON object. */
  key?: string;
  format?: FormatChoice;
  /** Say what would move; write nothing, take no lock. */
  dryRun?: boolean;
  /** For the durations (calendar days); default the machine's. */
  timeZone?: string;
  lockTimeoutMs?: number;
  onWarning?: RecordsWarningSink;
  onStep?: (step: ArchiveStep) => Promise<void> | void;
  fs?: RotateFs;
}

export interface ArchiveRecordsResult {
  file: string;
  format: RecordFormat;
  dryRun: boolean;
  /** The archive written (or that would be); undefined when no record was old enough. */
  archive: string | undefined;
  total: number;
  moved: number;
  kept: number;
  /** Records without a readable time (they stay). */
  noTime: number;
  cutoff: Date;
  dateRange: { oldest: Date; newest: Date } | undefined;
  /** An interrupted earlier run was finished first. */
  recovered: boolean;
}

/**
 * Moves the records of a live JSON or NDJSON file that are older than `olderThan` into a new
 * archive file, and leaves the rest in the live file with its formatting untouched.
 *
 * Order, under the file's lock (`FILE.lock`, see `lockRecords`): finish an interrupted run (see
 * `Journal`); read and decide (the retention engine's `max-age`); write the journal; write the
 * archive durably (staged, fsynced, linked under a free name, folder fsynced); replace the live
 * file atomically, after checking it is the very file read, unchanged (same inode, size and
 * modification time) — a writer that ignored the lock is detected there and the run undone with
 * nothing changed; remove the journal. A crash at any point leaves every record in the live file
 * or the archive, never both and never neither, once the next run has finished the journal.
 */
export async function archiveRecords(file: string, opts: ArchiveRecordsOptions): Promise<ArchiveRecordsResult> {
  const fs = opts.fs ?? nodeRotateFs;
  const path = resolve(file);
  const fieldPath = parseFieldPath(opts.timeField);
  parseDuration(opts.olderThan);
  const archiveDir = resolve(dirname(path), opts.archiveDir ?? "archives");
  const now = opts.now ?? new Date();
  const warn = opts.onWarning ?? (() => {});
  const step = async (s: ArchiveStep): Promise<void> => void (await opts.onStep?.(s));
  const ext = extname(path);
  const stem = basename(path, ext);

  const release = opts.dryRun ? async () => {} : await lockRecords(path, { fs, onWarning: warn, ...(opts.lockTimeoutMs !== undefined ? { timeoutMs: opts.lockTimeoutMs } : {}) });
  try {
    await step("locked");
    let recovered = false;
    if (opts.dryRun) {
      if (await readJournal(fs, path)) warn({ code: "RECOVERED", path, message: `${journalPath(path)} shows an interrupted run; a real run finishes it first, so these numbers may change.` });
    } else {
      recovered = await recoverInterrupted({ fs, file: path, format: (text) => chooseFormat(path, text, opts.format ?? "auto", opts.key), key: opts.key, onWarning: warn, onRewritten: () => step("recovery-rewritten") });
      await step("recovered");
    }

    const { text, stat } = await readLive(fs, path);
    const format = chooseFormat(path, text, opts.format ?? "auto", opts.key);
    if (format === "ndjson" && opts.key !== undefined) throw new CofferError("USAGE", "--key is for a JSON object holding the records; this file is NDJSON.", { key: opts.key });
    const doc = parseRecordText(text, format, opts.key, path);
    const plan = decide(doc.values, fieldPath, opts, now);
    if (plan.noTime > 0) {
      warn({
        code: "NO_TIME",
        path,
        message: `${plan.noTime} record${plan.noTime === 1 ? "" : "s"} of ${basename(path)} ${plan.noTime === 1 ? "has" : "have"} no readable time in "${opts.timeField}"${plan.notJson > 0 ? ` (${plan.notJson} not JSON at all)` : ""}; ${plan.noTime === 1 ? "it stays" : "they stay"} in the live file.`,
      });
    }
    const base = { file: path, format, dryRun: opts.dryRun === true, total: doc.values.length, noTime: plan.noTime, cutoff: plan.cutoff, recovered };
    if (plan.moved.size === 0) return { ...base, archive: undefined, moved: 0, kept: doc.values.length, dateRange: undefined };

    const movedValues = doc.values.filter((_, i) => plan.moved.has(i));
    const dateRange = { oldest: plan.oldest as Date, newest: plan.newest as Date };
    const taken = new Set(await archiveNames(fs, archiveDir, stem));
    const newestTaken = [...taken].map((n) => parseArchiveName(n, stem)?.named.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0);
    if (newestTaken > now.getTime() + 1000) {
      warn({ code: "CLOCK_BACKWARDS", path: archiveDir, message: `An archive of ${basename(path)} is named after ${formatStamp(now, "compact")}, the time now; the clock went back. The new archive gets a name of its own; nothing is overwritten.` });
    }
    let { name, counter } = freeArchiveName(taken, stem, now);
    const result = { ...base, archive: join(archiveDir, name), moved: movedValues.length, kept: doc.values.length - movedValues.length, dateRange };
    if (opts.dryRun) return result;

    const archiveDoc: ArchiveDocument = {
      metadata: {
        version: ARCHIVE_VERSION,
        archived_date: now.toISOString(),
        total_records: movedValues.length,
        date_range: { oldest: dateRange.oldest.toISOString(), newest: dateRange.newest.toISOString() },
        source: basename(path),
        time_field: opts.timeField,
        older_than: opts.olderThan,
        cutoff: plan.cutoff.toISOString(),
      },
      records: movedValues,
    };
    const moved = movedValues.map(recordHash);
    let published: string | undefined;
    let journaled = false;
    let renaming = false;
    let staged: StagedFile | undefined;
    try {
      await fs.mkdir(archiveDir, { recursive: true });
      for (;;) {
        await writeJournal(fs, path, { version: 1, archive: join(archiveDir, name), moved, started: now.toISOString() });
        journaled = true;
        await step("journal-written");
        staged ??= await stageFile(fs, archiveDir, name, { data: archiveText(archiveDoc, doc.indent) }, { mode: Number(stat.mode) & 0o666 });
        await step("archive-staged");
        if (await staged.publish(join(archiveDir, name))) break;
        // Taken since we looked (another program): the next name, and a journal naming it.
        taken.add(name);
        ({ name, counter } = freeArchiveName(taken, stem, now, counter + 1));
      }
      published = join(archiveDir, name);
      await staged.discard();
      await step("archive-published");
      await writeFileAtomic(fs, path, doc.rebuild((i) => !plan.moved.has(i)), {
        mode: Number(stat.mode) & 0o7777,
        uid: Number(stat.uid),
        gid: Number(stat.gid),
        beforeRename: async () => {
          await step("live-staged");
          await checkUnchanged(fs, path, stat);
          renaming = true;
        },
      });
      await step("live-replaced");
    } catch (err) {
      await staged?.discard();
      if (renaming) {
        // The rename may have happened: only the journal can tell the two states apart safely.
        const e = ioError(err, `replacing ${path}`);
        throw new CofferError(e.code, `${e.message.replace(/\.$/, "")}; no record is lost: the next run finishes the move from ${basename(journalPath(path))}.`, e.data, { cause: err });
      }
      throw await undo(fs, path, published, journaled, err);
    }
    try {
      await removeJournal(fs, path);
    } catch (err) {
      warn({ code: "FAILED", path: journalPath(path), message: `The run finished, but its journal could not be removed (${(err as Error).message}); the next run removes it.` });
    }
    await step("journal-removed");
    return { ...result, archive: published };
  } finally {
    await release();
  }
}

interface Plan {
  moved: Set<number>;
  noTime: number;
  notJson: number;
  cutoff: Date;
  oldest: Date | undefined;
  newest: Date | undefined;
}

/** Which records move: the retention engine removes those older than `max-age olderThan`. */
function decide(values: readonly unknown[], fieldPath: string[], opts: ArchiveRecordsOptions, now: Date): Plan {
  const items: (RetentionItem & { index: number })[] = [];
  let noTime = 0;
  let notJson = 0;
  values.forEach((v, index) => {
    if (v === undefined) notJson++;
    const time = v === undefined ? undefined : parseRecordTime(getField(v, fieldPath));
    if (time === undefined) noTime++;
    else items.push({ id: String(index).padStart(12, "0"), time, index });
  });
  const policy = { maxAge: opts.olderThan, allowEmpty: true, ...(opts.timeZone !== undefined ? { timeZone: opts.timeZone } : {}) };
  const checked = checkPolicy(policy);
  const res = applyPolicy(items, policy, now);
  const moved = new Set(res.remove.map((it) => it.index));
  let oldest = Infinity;
  let newest = -Infinity;
  for (const it of res.remove) {
    oldest = Math.min(oldest, it.time.getTime());
    newest = Math.max(newest, it.time.getTime());
  }
  return {
    moved,
    noTime,
    notJson,
    cutoff: checked.calendar.subtract(now, checked.maxAge ?? parseDuration(opts.olderThan)),
    oldest: res.remove.length > 0 ? new Date(oldest) : undefined,
    newest: res.remove.length > 0 ? new Date(newest) : undefined,
  };
}

/** Takes back a run that failed before the live file was replaced; returns the error to throw. */
async function undo(fs: RotateFs, path: string, published: string | undefined, journaled: boolean, err: unknown): Promise<CofferError> {
  const e = ioError(err, `archiving the records of ${path}`);
  const changed = isCofferError(e) && e.data.reason === "CONCURRENT_CHANGE";
  try {
    if (published !== undefined) {
      await fs.unlink(published);
      await fsyncDir(fs, dirname(published));
    }
    if (journaled) await removeJournal(fs, path);
  } catch (undoErr) {
    return new CofferError(
      e.code,
      `${e.message.replace(/\.$/, "")}. Undoing it failed too (${(undoErr as Error).message}); no record is lost: the next run finishes it from ${basename(journalPath(path))}.`,
      e.data,
      { cause: err },
    );
  }
  if (changed) return e;
  return new CofferError(e.code, `${e.message.replace(/\.$/, "")}; nothing was changed: ${basename(path)} holds all its records.`, { ...e.data, path }, { cause: err });
}
