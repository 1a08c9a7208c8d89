// Helpers for rotation tests: temporary log trees, their contents (compressed files read
// through their decompressor), and every line found across a log and its copies.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, appendFile, mkdir, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import zstd from "zstd-napi";

export async function tempDir(prefix = "coffer-rotate-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Plain text of a file, decompressed by its ending. */
export async function readText(path: string): Promise<string> {
  const raw = await readFile(path);
  if (path.endsWith(".gz")) return gunzipSync(raw).toString("utf8");
  if (path.endsWith(".zst")) return zstd.decompress(raw).toString("utf8");
  return raw.toString("utf8");
}

export interface TreeEntry {
  text: string;
  mode: number;
}

/** Every regular file under `root` (relative path → decompressed text and permission bits), temporary files included so a leftover shows. */
export async function snapshotTree(root: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out[relative(root, p)] = { text: await readText(p), mode: (await stat(p)).mode & 0o7777 };
    }
  }
  await walk(root);
  return out;
}

export async function writeFileAt(path: string, text: string, mtime?: Date): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  if (mtime) await utimes(path, mtime, mtime);
}

export async function append(path: string, text: string): Promise<void> {
  await appendFile(path, text);
}

export function hasLogrotate(): boolean {
  return spawnSync("logrotate", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Lines of every file under `dir` whose name starts with `stem` (current, rotated, archived, compressed). */
export async function linesUnder(dir: string, stem: string): Promise<{ lines: string[]; files: string[] }> {
  const lines: string[] = [];
  const files: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.startsWith(stem)) {
        files.push(p);
        const text = await readText(p);
        if (text !== "" && !text.endsWith("\n")) throw new Error(`${p} ends mid-line`);
        for (const l of text.split("\n")) if (l !== "") lines.push(l);
      }
    }
  }
  await walk(dir);
  return { lines, files };
}
