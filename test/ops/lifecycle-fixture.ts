// A project directory and a repository for the lifecycle tests (pre-change, revision, rollback):
// files, an ignored node_modules, and a digest of "what the directory holds" to compare.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MemoryBackend } from "../../src/backend/memory.js";
import { Repository } from "../../src/repository/repository.js";

export interface Project {
  dir: string;
  /** The project directory. */
  root: string;
  repo: Repository;
  write(rel: string, content: string | Buffer, mode?: number): void;
  read(rel: string): string;
  cleanup(): Promise<void>;
}

export async function makeProject(): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-life-"));
  const root = join(dir, "project");
  const repo = await Repository.init(new MemoryBackend(), { encryption: "none" });
  const write = (rel: string, content: string | Buffer, mode = 0o644): void => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content, { mode });
  };
  write(".gitignore", "node_modules/\n*.log\n");
  write("src/a.ts", "export const a = 1;\n");
  write("src/b.ts", "export const b = 2;\n");
  write("README.md", "# project\n");
  write("node_modules/pkg/index.js", "module.exports = 42;\n");
  write("debug.log", "noise\n");
  return {
    dir,
    root,
    repo,
    write,
    read: (rel) => readFileSync(join(root, rel), "utf8"),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Every entry below `root` (relative path → type, mode and content hash), leaving out `skip` (top-level names or paths). */
export function digest(root: string, skip: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.some((s) => r === s || r.startsWith(`${s}/`) || name === s)) continue;
      const p = join(root, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `symlink ${readlinkSync(p)}`;
      else out[r] = `file ${mode} ${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}`;
    }
  };
  walk("");
  return out;
}
