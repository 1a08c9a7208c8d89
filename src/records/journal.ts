import { basename, dirname } from "node:path";
import { CofferError, ioError, sysCode } from "../core/errors.js";
import { fsyncDir, type RotateFs } from "../rotate/rotate-fs.js";
import { sweepTemps, writeFileAtomic } from "../rotate/stage-file.js";
import { readArchive, recordHash } from "./archive-file.js";
import { checkUnchanged, readLive } from "./live-file.js";
import { parseRecordText, type RecordFormat } from "./record-file.js";
import type { RecordsWarningSink } from "./records-warning.js";

/**
 * The journal of an archive run, `FILE.archive-journal`, written (atomically, durably) before
 * the archive file exists and removed after the live file has been rewritten:
 * `{"version":1,"archive":"/abs/…/x_archive_20261120_120000.json","moved":["<hash>",…],"started":"…"}`
 * where `moved` holds `recordHash` of each record being moved, repeated records repeated.
 *
 * Its presence means a run was interrupted. The archive file is published whole (fsynced, then
 * linked) and only then is the live file replaced (atomically), so:
 * - no archive file: nothing was moved; the journal (and temporary files) go;
 * - an archive file: it holds every moved record; any of them still in the live file are
 *   removed from it (the multiset of `moved`, so a record repeated on purpose stays as often
 *   as it was not moved). That finishes a run stopped before, or after, its live rewrite alike.
 * Either way each record ends up exactly once in the live file or the archive.
 */
export interface Journal {
  version: 1;
  archive: string;
  moved: string[];
  started: string;
}

export function journalPath(file: string): string {
  return `${file}.archive-journal`;
}

export async function writeJournal(fs: RotateFs, file: string, j: Journal): Promise<void> {
  await writeFileAtomic(fs, journalPath(file), JSON.stringify(j) + "\n", { mode: 0o600 });
}

export async function removeJournal(fs: RotateFs, file: string): Promise<void> {
  try {
    await fs.unlink(journalPath(file));
  } catch (err) {
    if (sysCode(err) !== "ENOENT") throw err;
  }
  await fsyncDir(fs, dirname(file));
}

export async function readJournal(fs: RotateFs, file: string): Promise<Journal | undefined> {
  let text: string;
  try {
    text = await fs.readFile(journalPath(file), "utf8");
  } catch (err) {
    if (sysCode(err) === "ENOENT") return undefined;
    throw ioError(err, `reading ${journalPath(file)}`);
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j.version === 1 && typeof j.archive === "string" && Array.isArray(j.moved)) return j;
  } catch {
    // reported below
  }
  throw new CofferError("CORRUPT", `${journalPath(file)} is not an archive journal coffer wrote; look at it, then remove it and run again.`, { path: journalPath(file) });
}

export interface RecoverInput {
  fs: RotateFs;
  file: string;
  /** The live file's format, chosen from its text. */
  format: (text: string) => RecordFormat;
  key: string | undefined;
  onWarning: RecordsWarningSink;
  /** After the live file was rewritten by the recovery (for crash tests). */
  onRewritten?: () => Promise<void> | void;
}

/** Finishes an interrupted run, if the journal says there was one (see `Journal`). Call it holding the lock. */
export async function recoverInterrupted(r: RecoverInput): Promise<boolean> {
  const { fs, file } = r;
  const j = await readJournal(fs, file);
  if (!j) return false;
  await sweepTemps(fs, dirname(j.archive), basename(j.archive));
  await sweepTemps(fs, dirname(file), basename(file));
  const archived = await fs.lstat(j.archive).then(() => true, () => false);
  if (!archived) {
    await removeJournal(fs, file);
    r.onWarning({ code: "RECOVERED", path: file, message: `An interrupted archive run of ${file} had not moved any record yet; it was cleaned up.` });
    return true;
  }
  const doc = await readArchive(fs, j.archive);
  const want = counts(j.moved);
  const have = counts(doc.records.map(recordHash));
  if (want.size !== have.size || [...want].some(([h, n]) => have.get(h) !== n)) {
    throw new CofferError("CORRUPT", `${j.archive} does not hold the records ${journalPath(file)} says were moved; nothing was changed. Compare the two, then remove the journal.`, { archive: j.archive });
  }
  const { text, stat: st } = await readLive(fs, file);
  const live = parseRecordText(text, r.format(text), r.key, file);
  const left = new Map(want);
  const drop = live.values.map((v) => {
    if (v === undefined) return false;
    const h = recordHash(v);
    const n = left.get(h) ?? 0;
    if (n === 0) return false;
    left.set(h, n - 1);
    return true;
  });
  const removed = drop.filter(Boolean).length;
  if (removed > 0) {
    try {
      await writeFileAtomic(fs, file, live.rebuild((i) => !drop[i]), {
        mode: Number(st.mode) & 0o7777,
        uid: Number(st.uid),
        gid: Number(st.gid),
        beforeRename: () => checkUnchanged(fs, file, st),
      });
    } catch (err) {
      throw ioError(err, `finishing an interrupted archive run of ${file} (nothing is lost: the journal stays, run again)`);
    }
    await r.onRewritten?.();
  }
  await removeJournal(fs, file);
  r.onWarning({
    code: "RECOVERED",
    path: file,
    message:
      removed > 0
        ? `Finished an interrupted archive run: ${removed} record${removed === 1 ? "" : "s"} already in ${basename(j.archive)} ${removed === 1 ? "was" : "were"} removed from ${basename(file)}.`
        : `An interrupted archive run had finished moving its records to ${basename(j.archive)}; only its journal was left, and it was removed.`,
  });
  return true;
}

function counts(hashes: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const h of hashes) m.set(h, (m.get(h) ?? 0) + 1);
  return m;
}
