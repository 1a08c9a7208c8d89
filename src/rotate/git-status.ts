import { execFile } from "node:child_process";
import { realpath } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";

/** Whether a file's current content is what its last commit holds, and if not, why. */
export interface CommitState {
  committed: boolean;
  reason: string;
}

interface GitResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function git(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((done) => {
    execFile("git", ["-C", cwd, ...args], { maxBuffer: 256 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      done({ status: code, stdout, stderr });
    });
  });
}

/**
 * For each path: is it tracked by git, and is its content in the working tree and the index the
 * same as in HEAD? One `git ls-files` and one `git status --porcelain` per repository (the
 * batched form of `git diff --quiet HEAD -- FILE`); a file missing from the working tree, staged
 * but not committed, modified, or outside any repository is not committed.
 */
export async function commitStates(paths: readonly string[]): Promise<Map<string, CommitState>> {
  const out = new Map<string, CommitState>();
  const tops = new Map<string, string | undefined>();
  const byTop = new Map<string, { path: string; rel: string }[]>();
  for (const path of paths) {
    const dir = await realpath(dirname(resolve(path))).catch(() => undefined);
    if (dir === undefined) {
      out.set(path, { committed: false, reason: "its folder does not exist" });
      continue;
    }
    if (!tops.has(dir)) {
      const r = await git(dir, ["rev-parse", "--show-toplevel"]);
      tops.set(dir, r.status === 0 ? await realpath(r.stdout.trim()).catch(() => r.stdout.trim()) : undefined);
    }
    const top = tops.get(dir);
    if (top === undefined) {
      out.set(path, { committed: false, reason: "not in a git repository" });
      continue;
    }
    const rel = relative(top, join(dir, basename(path))).split(sep).join("/");
    const list = byTop.get(top) ?? [];
    list.push({ path, rel });
    byTop.set(top, list);
  }
  for (const [top, files] of byTop) {
    const tracked = await git(top, ["ls-files", "-z", "--full-name"]);
    const status = await git(top, ["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none"]);
    const head = await git(top, ["rev-parse", "--verify", "-q", "HEAD"]);
    if (tracked.status !== 0 || status.status !== 0) {
      const why = (tracked.status !== 0 ? tracked.stderr : status.stderr).trim().split("\n")[0] ?? "git failed";
      for (const f of files) out.set(f.path, { committed: false, reason: `git: ${why}` });
      continue;
    }
    const trackedSet = new Set(tracked.stdout.split("\0").filter((s) => s !== ""));
    const changed = parsePorcelain(status.stdout);
    for (const f of files) {
      if (head.status !== 0) out.set(f.path, { committed: false, reason: "the repository has no commit yet" });
      else if (!trackedSet.has(f.rel)) out.set(f.path, { committed: false, reason: "not tracked by git" });
      else if (changed.has(f.rel)) out.set(f.path, { committed: false, reason: `${changed.get(f.rel)} since the last commit` });
      else out.set(f.path, { committed: true, reason: "committed and unchanged in git" });
    }
  }
  return out;
}

const STATES: Record<string, string> = { M: "modified", A: "added", D: "deleted", R: "renamed", C: "copied", T: "type changed", U: "unmerged" };

/** `git status --porcelain=v1 -z`: path → what changed (index or working tree). */
function parsePorcelain(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split("\0");
  for (let i = 0; i < parts.length; i++) {
    const e = parts[i] as string;
    if (e.length < 4) continue;
    const xy = e.slice(0, 2);
    const path = e.slice(3);
    const letter = (xy[0] !== " " && xy[0] !== "?" ? xy[0] : xy[1]) ?? "M";
    const what = (STATES[letter] ?? "changed") + (xy[0] !== " " && xy[1] === " " ? " (staged)" : "");
    out.set(path, what);
    // A rename or copy names its source next; the source has changed too.
    if (xy[0] === "R" || xy[0] === "C") {
      const orig = parts[++i];
      if (orig) out.set(orig, what);
    }
  }
  return out;
}
