import { resolve } from "node:path";
import { CofferError, ioError, isCofferError, sysCode } from "../core/errors.js";
import { takeLock } from "../rotate/take-lock.js";
import { nodeRotateFs, type RotateFs } from "../rotate/rotate-fs.js";
import { writeFileAtomic } from "../rotate/stage-file.js";
import { chooseFormat, parseRecordText, type FormatChoice } from "./record-file.js";
import type { RecordsWarningSink } from "./records-warning.js";

export interface RecordsLockOptions {
  /** How long to wait for the holder; default 10 s, then LOCKED. */
  timeoutMs?: number;
  onWarning?: RecordsWarningSink;
  fs?: RotateFs;
}

/**
 * Takes `FILE.lock`, the lock every writer of a live record file takes while it changes the
 * file: created with O_EXCL, holding `PID HOST TIME`; a lock whose process is gone (same host) is
 * stale and taken over. Returns the release function. Programs outside coffer do the same with
 * `set -o noclobber; echo "$$ $(hostname) $(date -Is)" > FILE.lock` (see docs/records.md).
 */
export async function lockRecords(file: string, opts: RecordsLockOptions = {}): Promise<() => Promise<void>> {
  const path = `${resolve(file)}.lock`;
  const warn = opts.onWarning;
  try {
    return await takeLock(opts.fs ?? nodeRotateFs, path, {
      timeoutMs: opts.timeoutMs ?? 10_000,
      ...(warn ? { onWarning: (w) => warn({ code: "STALE_LOCK", path, message: w.message }) } : {}),
    });
  } catch (err) {
    if (isCofferError(err, "LOCKED")) {
      throw new CofferError("LOCKED", `Another process (${String(err.data.pid)} on ${String(err.data.host)}) is changing ${resolve(file)} and holds ${path}; wait for it, or remove the lock if that process is gone.`, err.data);
    }
    throw err;
  }
}

export interface AppendRecordsOptions extends RecordsLockOptions {
  /** For a JSON object holding the records under a key. */
  key?: string;
  format?: FormatChoice;
}

/**
 * Adds records to a live record file under its lock, the cooperating way to write one that
 * `archiveRecords` may be working on. NDJSON: appended lines, fsynced. JSON: the file is
 * rewritten atomically with the records after the last one, laid out as the others are.
 */
export async function appendRecords(file: string, records: readonly unknown[], opts: AppendRecordsOptions = {}): Promise<void> {
  const fs = opts.fs ?? nodeRotateFs;
  const path = resolve(file);
  const release = await lockRecords(path, opts);
  try {
    let text = "";
    let mode = 0o644;
    try {
      text = await fs.readFile(path, "utf8");
      mode = (await fs.stat(path)).mode & 0o7777;
    } catch (err) {
      if (sysCode(err) !== "ENOENT") throw ioError(err, `reading ${path}`);
    }
    const format = chooseFormat(path, text, opts.format ?? "auto", opts.key);
    if (format === "ndjson") {
      const head = text !== "" && !text.endsWith("\n") ? "\n" : "";
      const fh = await fs.open(path, "a", mode);
      try {
        await fh.appendFile(head + records.map((r) => `${JSON.stringify(r)}\n`).join(""));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return;
    }
    if (text.trim() === "") text = opts.key === undefined ? "[]\n" : `${JSON.stringify({ [opts.key]: [] })}\n`;
    const doc = parseRecordText(text, "json", opts.key);
    await writeFileAtomic(fs, path, doc.append(records.map((r) => doc.serialize(r))), { mode });
  } catch (err) {
    throw ioError(err, `adding records to ${path}`);
  } finally {
    await release();
  }
}
