/**
 * A consistent copy of a live SQLite database, taken with SQLite's online backup API through
 * better-sqlite3 (`db.backup`). The copy holds every transaction committed before it began,
 * those still in the -wal file included, and none half-done, even while other processes write.
 *
 * Why one step: the backup API copies in steps and, when another connection writes between two
 * steps, starts over; against a database written continuously it might never finish. Copying
 * every page in a single step holds one read transaction for the whole copy, which in WAL mode
 * does not block writers (in rollback-journal mode they wait for that one step).
 */
import { chmod, stat } from "node:fs/promises";
import { CofferError, ioError, sysCode } from "../core/errors.js";

export interface SqliteCopyOptions {
  /** Check the copy before it is stored: `quick` (PRAGMA quick_check, default), `full` (integrity_check), `off`. */
  integrityCheck?: "quick" | "full" | "off";
  /** How long to wait for a lock held by a writer, in ms (default 10 s). */
  busyTimeoutMs?: number;
}

export interface SqliteCopyResult {
  /** Size of the copy in bytes. */
  bytes: number;
  /** Pages copied. */
  pages: number;
}

interface Statement {
  get(): unknown;
}
interface Database {
  backup(dest: string, opts?: { progress?: (p: { totalPages: number; remainingPages: number }) => number }): Promise<{ totalPages: number; remainingPages: number }>;
  pragma(sql: string, opts?: { simple?: boolean }): unknown;
  prepare(sql: string): Statement;
  close(): void;
}
type DatabaseConstructor = new (path: string, opts?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }) => Database;

let driver: Promise<DatabaseConstructor> | undefined;

/** better-sqlite3, loaded on first use: a native module only sqlite sources need. */
export function loadSqliteDriver(): Promise<DatabaseConstructor> {
  driver ??= import("better-sqlite3" as string).then(
    (m: { default: DatabaseConstructor }) => m.default,
    (err: unknown) => {
      driver = undefined;
      throw new CofferError("UNSUPPORTED", `SQLite sources need the better-sqlite3 module, which could not be loaded (${(err as Error).message}); reinstall coffer with its dependencies (npm install).`, {}, { cause: err });
    },
  );
  return driver;
}

/** Copies the database at `source` to `dest` (which must not exist) and checks the copy. */
export async function copySqliteDatabase(source: string, dest: string, opts: SqliteCopyOptions = {}): Promise<SqliteCopyResult> {
  const Database = await loadSqliteDriver();
  let srcStat;
  try {
    srcStat = await stat(source);
  } catch (err) {
    if (sysCode(err) === "ENOENT") throw new CofferError("PATH_MISSING", `The database ${source} does not exist; nothing was backed up.`, { path: source });
    throw ioError(err, `reading ${source}`);
  }
  let db: Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true, timeout: opts.busyTimeoutMs ?? 10_000 });
  } catch (err) {
    throw notADatabase(source, err);
  }
  let pages = 0;
  try {
    // Reading the schema first fails early, with a clear message, on a file that is not a database.
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    const done = await db.backup(dest, {
      progress: (p) => {
        pages = p.totalPages;
        return 0x7fffffff; // everything in the next step: see the header
      },
    });
    pages = Math.max(pages, done.totalPages);
  } catch (err) {
    if (err instanceof CofferError) throw err;
    throw notADatabase(source, err);
  } finally {
    db.close();
  }
  await chmod(dest, srcStat.mode & 0o7777).catch(() => undefined);
  const check = opts.integrityCheck ?? "quick";
  if (check !== "off") {
    const copy = new Database(dest, { fileMustExist: true });
    try {
      const rows = copy.pragma(check === "full" ? "integrity_check" : "quick_check") as Record<string, unknown>[];
      const problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== "ok");
      if (problems.length > 0) {
        throw new CofferError("CORRUPT", `The copy of the database ${source} fails SQLite's ${check === "full" ? "integrity_check" : "quick_check"} (${problems.slice(0, 3).join("; ")}); the database itself is damaged: repair it (sqlite3 ${source} ".recover") before backing it up.`, { path: source, problems });
      }
    } finally {
      copy.close();
    }
  }
  const bytes = (await stat(dest)).size;
  return { bytes, pages };
}

function notADatabase(path: string, err: unknown): CofferError {
  const msg = (err as Error).message ?? String(err);
  const code = (err as { code?: string }).code;
  if (code === "SQLITE_NOTADB" || /not a database/i.test(msg)) {
    return new CofferError("INVALID", `${path} is not a SQLite database (${msg}); list it under paths, not databases.`, { path }, { cause: err });
  }
  if (code === "SQLITE_BUSY" || /locked|busy/i.test(msg)) {
    return new CofferError("LOCKED", `The database ${path} stayed locked by a writer (${msg}); try again, or raise the busy timeout.`, { path }, { cause: err });
  }
  return new CofferError("IO", `Copying the database ${path} failed: ${msg}`, { path }, { cause: err });
}
