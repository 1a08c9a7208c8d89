// A repository holding one snapshot of a small tree with every kind of entry an archive holds
// (a multi-blob file, text, an empty file, an empty directory, a symlink, a hard link,
// restrictive modes, an old mtime with nanoseconds), and helpers to export it to a file and
// to compare an extracted directory with the source.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../../src/backend/local.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import type { ArchiveFormat } from "../../src/ops/archive-format.js";
import { exportSnapshot, type ExportOptions, type ExportResult } from "../../src/ops/export.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { streamSink } from "../../src/snapshot/tar-writer.js";

export interface ArchiveFixture {
  dir: string;
  /** The backed-up directory ("…/src/app"). */
  src: string;
  repo: Repository;
  snapshot: SnapshotWithId;
  /** Exports the snapshot to `dir/name` (format from `opts.format` or the name). */
  exportTo(name: string, opts?: Partial<ExportOptions>): Promise<{ file: string; result: ExportResult }>;
  cleanup(): Promise<void>;
}

export const OLD_MTIME = new Date("2020-02-03T04:05:06.789Z");

export async function makeArchiveFixture(): Promise<ArchiveFixture> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-archive-"));
  const src = join(dir, "src", "app");
  await mkdir(join(src, "sub", "deeper"), { recursive: true });
  await mkdir(join(src, "empty-dir"));
  await writeFile(join(src, "big.bin"), randomBytes(2_600_000)); // several blobs
  await writeFile(join(src, "sub", "notes.txt"), "line one\nline two\n".repeat(2000));
  await writeFile(join(src, "sub", "deeper", "secret.txt"), "s3cr3t\n");
  await chmod(join(src, "sub", "deeper", "secret.txt"), 0o600);
  await writeFile(join(src, "run.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(src, "run.sh"), 0o755);
  await writeFile(join(src, "empty.txt"), "");
  await writeFile(join(src, "data.log"), "log line\n".repeat(100));
  await symlink("sub/notes.txt", join(src, "link-to-notes"));
  await link(join(src, "sub", "notes.txt"), join(src, "notes-hardlink.txt"));
  await utimes(join(src, "big.bin"), OLD_MTIME, OLD_MTIME);
  const repo = await Repository.init(new LocalBackend(join(dir, "repo")), { password: "pw", kdf: TEST_KDF });
  const snapshot = (await backup(repo, { paths: [src], workers: 1, tags: ["nightly"], label: "fixture", time: new Date("2026-03-04T05:06:07Z") })).snapshot!;
  return {
    dir,
    src,
    repo,
    snapshot,
    async exportTo(name, opts = {}) {
      const file = join(dir, name);
      const format = opts.format ?? formatOf(name);
      const out = createWriteStream(file);
      const result = await exportSnapshot(repo, streamSink(out), { snapshot, ...opts, format });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      return { file, result };
    },
    async cleanup() {
      await repo.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function formatOf(name: string): ArchiveFormat {
  if (name.endsWith(".zip")) return "zip";
  if (name.endsWith(".tar.gz")) return "tar.gz";
  if (name.endsWith(".tar.zst")) return "tar.zst";
  return "tar";
}

/** Extracts an archive with the system's unzip or tar into a new directory; returns it. */
export async function extract(file: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  const r = file.endsWith(".zip")
    ? spawnSync("unzip", ["-q", file, "-d", into])
    : file.endsWith(".tar.zst")
      ? spawnSync("sh", ["-c", `zstd -dc "$0" | tar -x -C "$1"`, file, into])
      : spawnSync("tar", ["-x", ...(file.endsWith(".gz") ? ["-z"] : []), "-f", file, "-C", into]);
  if (r.status !== 0) throw new Error(`extracting ${file} failed: ${r.stderr.toString()}`);
  return into;
}

export interface EntryDigest {
  type: "file" | "dir" | "symlink";
  mode: number;
  /** Whole seconds. */
  mtime: number;
  sha256?: string;
  target?: string;
}

/** Every entry below `root` as relative path → type, mode, mtime (seconds), content hash or link target. */
export async function digestTree(root: string): Promise<Map<string, EntryDigest>> {
  const out = new Map<string, EntryDigest>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = await lstat(p);
      const base = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
      // unzip does not set the times of symlinks; tar does.
      if (st.isSymbolicLink()) out.set(r, { type: "symlink", mode: 0, mtime: 0, target: await readlink(p) });
      else if (st.isDirectory()) {
        out.set(r, { type: "dir", ...base });
        await walk(p, r);
      } else out.set(r, { type: "file", ...base, sha256: createHash("sha256").update(await readFile(p)).digest("hex") });
    }
  };
  await walk(root, "");
  return out;
}
