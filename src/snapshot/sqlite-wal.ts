import { open } from "node:fs/promises";
import type { Warning } from "../core/warning.js";

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

/** Suffixes of the files SQLite keeps beside a database while it is in use. */
export const SQLITE_COMPANIONS = ["-wal", "-shm", "-journal"] as const;

/**
 * Whether `path` is a SQLite database in use in WAL mode: a `-wal` file beside it (listed in
 * `siblings`, the names in its folder) and the SQLite header in the file. Copying such a file
 * and its -wal one by one can give a database that misses commits or fails its integrity check.
 */
export async function isLiveSqlite(path: string, siblings: ReadonlySet<string>, name: string): Promise<boolean> {
  if (!siblings.has(`${name}-wal`)) return false;
  try {
    const fh = await open(path, "r");
    try {
      const head = Buffer.alloc(SQLITE_HEADER.length);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      return bytesRead === head.length && head.equals(SQLITE_HEADER);
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

export function sqliteWalWarning(path: string): Warning {
  return {
    code: "SQLITE_WAL",
    path,
    message:
      `${path} is a live SQLite database (it has a -wal file beside it): a plain file copy may miss recent commits or be inconsistent. ` +
      `Back it up with a sqlite source instead, which copies it with SQLite's online backup API: in coffer.yaml, ` +
      `sources: { app-db: { kind: sqlite, databases: [${path}] } }, then coffer backup --source app-db.`,
  };
}
