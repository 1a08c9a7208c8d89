import { basename, dirname, join, resolve } from "node:path";
import { ioError, sysCode } from "../core/errors.js";
import { parseCopyName, type CopyName } from "./rotated-name.js";
import { isTempName, type RotateFs } from "./rotate-fs.js";
import type { ResolvedRule } from "./rule.js";

/** A rotated copy found on disk. */
export interface CopyFile {
  path: string;
  dir: string;
  name: string;
  parsed: CopyName;
  mtime: Date;
  size: number;
}

export interface CopyDirs {
  backups: string;
  /** Undefined: copies beyond `keep` are deleted. */
  archive: string | undefined;
}

/** The rule's directories for one log, resolved against the log's directory. */
export function copyDirs(livePath: string, rule: Pick<ResolvedRule, "backupsDir" | "archiveDir">): CopyDirs {
  const base = dirname(livePath);
  return { backups: resolve(base, rule.backupsDir), archive: rule.archiveDir === undefined ? undefined : resolve(base, rule.archiveDir) };
}

/** Every copy of `livePath` in its backups and archive directories (temporary files and other names ignored). */
export async function findCopies(fs: RotateFs, livePath: string, rule: ResolvedRule, dirs: CopyDirs): Promise<CopyFile[]> {
  const liveName = basename(livePath);
  const out: CopyFile[] = [];
  for (const dir of new Set([dirs.backups, ...(dirs.archive === undefined ? [] : [dirs.archive])])) {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (sysCode(err) === "ENOENT") continue;
      throw ioError(err, `listing ${dir}`);
    }
    for (const name of names) {
      if (isTempName(name)) continue;
      const parsed = parseCopyName(liveName, name, rule);
      if (!parsed) continue;
      const path = join(dir, name);
      const st = await fs.lstat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      out.push({ path, dir, name, parsed, mtime: st.mtime, size: st.size });
    }
  }
  return out;
}
