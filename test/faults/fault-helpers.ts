// Shared by the fault regression tests: the CLI as a child process (optionally as another
// user), real repositories in temp dirs, trees of test data, and "what a directory holds" as
// comparable digests. `check` and `restore` go through the CLI when this build has the
// command, else through the library (same function the command calls).
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../../src/backend/local.js";
import { commands } from "../../src/cli/commands.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { check, type CheckResult } from "../../src/ops/check.js";
import { Repository } from "../../src/repository/repository.js";
import { restore, type RestoreResult } from "../../src/snapshot/restorer.js";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { decodeTree } from "../../src/snapshot/tree.js";

/**
 * The CLI these tests run: the bundle (dist/bundle, what bin/coffer.js runs) when it is at least
 * as new as the compiled sources, as after `npm test`; else the compiled sources.
 */
export const MAIN_URL = cliEntry();
function cliEntry(): string {
  const src = new URL("../../src/cli/main.js", import.meta.url);
  const bundle = new URL("../../bundle/main.js", import.meta.url);
  const mtime = (u: URL) => statSync(u, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  return (mtime(bundle) >= mtime(src) ? bundle : src).href;
}
export const PASSWORD = "fault-test-password";

/**
 * A script that runs the CLI of this build. A file, not `node -e`: worker threads inherit
 * the parent's execArgv, and `--input-type` makes them fail to start.
 */
let launcherPath: string | undefined;
function launcher(): string {
  if (launcherPath) return launcherPath;
  const dir = mkdtempSync(join(tmpdir(), "coffer-fault-launcher-"));
  chmodSync(dir, 0o755);
  const p = join(dir, "coffer.mjs");
  writeFileSync(p, `import { main } from ${JSON.stringify(MAIN_URL)};\nmain(process.argv.slice(2));\n`, { mode: 0o644 });
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return (launcherPath = p);
}

export function hasCommand(name: string): boolean {
  return commands.some((c) => c.name === name);
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this uid/gid (setpriv), e.g. 65534 for nobody. */
  uid?: number;
}

/** The environment every CLI run gets: nothing inherited but PATH. */
export function baseEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, XDG_DATA_HOME: join(home, "data"), XDG_CONFIG_HOME: join(home, "config"), XDG_CACHE_HOME: join(home, "cache"), COFFER_TEST_KDF: "1", COFFER_PASSWORD: PASSWORD, NO_COLOR: "1", ...extra };
}

/** A running `coffer` child process and its result. */
export interface CliChild {
  child: ChildProcess;
  started: number;
  /** stdout/stderr so far. */
  out(): string;
  err(): string;
  done: Promise<CliRun>;
}

export function spawnCli(argv: string[], opts: SpawnOptions = {}): CliChild {
  const nodeArgs = [launcher(), ...argv];
  const [cmd, args] = opts.uid !== undefined ? ["setpriv", [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups", "--", process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const started = Date.now();
  const child = spawn(cmd as string, args as string[], { env: opts.env ?? baseEnv(tmpdir()), cwd: opts.cwd ?? tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, out, err, ms: Date.now() - started }));
  });
  return { child, started, out: () => out, err: () => err, done };
}

export function runCli(argv: string[], opts: SpawnOptions = {}): Promise<CliRun> {
  return spawnCli(argv, opts).done;
}

/** A temp dir with a home, a source dir `src` and a repository location `repo` (not created). */
export interface Sandbox {
  dir: string;
  home: string;
  src: string;
  repo: string;
  env: Record<string, string>;
  /** `coffer -r repo ...` */
  cli(argv: string[], opts?: SpawnOptions): Promise<CliRun>;
  spawn(argv: string[], opts?: SpawnOptions): CliChild;
  open(): Promise<Repository>;
  cleanup(): Promise<void>;
}

export interface SandboxOptions {
  /** Create the repository (default true). */
  init?: boolean;
  packSize?: number;
  /** Where the repository goes, relative to the sandbox (default "repo"). */
  repoPath?: string;
}

export async function sandbox(name: string, opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), `coffer-fault-${name}-`));
  const home = join(dir, "home");
  const src = join(dir, "src");
  const repo = join(dir, opts.repoPath ?? "repo");
  mkdirSync(home);
  mkdirSync(src);
  const env = baseEnv(home);
  const sb: Sandbox = {
    dir,
    home,
    src,
    repo,
    env,
    cli: (argv, o = {}) => runCli(["-r", repo, ...argv], { env, cwd: dir, ...o }),
    spawn: (argv, o = {}) => spawnCli(["-r", repo, ...argv], { env, cwd: dir, ...o }),
    open: () => Repository.open(new LocalBackend(repo), { password: PASSWORD }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  if (opts.init !== false) await initRepo(repo, opts.packSize);
  return sb;
}

export async function initRepo(path: string, packSize?: number): Promise<void> {
  const repo = await Repository.init(new LocalBackend(path), { password: PASSWORD, kdf: TEST_KDF, ...(packSize ? { packSize } : {}) });
  await repo.close();
}

// ---------------------------------------------------------------- check and restore

export interface CheckRun {
  /** The exit code `coffer check` gave (or would give: 0 ok, 1 errors). */
  code: number;
  /** Everything it printed (library: one line per problem, with full ids). */
  text: string;
  via: "cli" | "library";
  result?: CheckResult;
}

/** `coffer check [--read-data]`: the CLI when there is one, else the library. */
export async function checkRepo(sb: Pick<Sandbox, "repo" | "env" | "dir" | "open">, opts: { readData?: boolean } = {}): Promise<CheckRun> {
  if (hasCommand("check")) {
    const r = await runCli(["-r", sb.repo, "check", ...(opts.readData ? ["--read-data"] : [])], { env: sb.env, cwd: sb.dir });
    return { code: r.code ?? -1, text: r.out + r.err, via: "cli" };
  }
  const repo = await sb.open();
  try {
    const result = await check(repo, { ...(opts.readData ? { readData: true } : {}), workers: 2 });
    const lines = [...result.errors.map((p) => `error: ${p.kind} ${p.id}: ${p.message}${p.snapshots?.length ? ` (snapshots ${p.snapshots.join(", ")})` : ""}`), ...result.warnings.map((p) => `warning: ${p.kind} ${p.id}: ${p.message}`)];
    return { code: result.ok ? 0 : 1, text: lines.join("\n"), via: "library", result };
  } finally {
    await repo.close();
  }
}

/**
 * Restores a snapshot into `target` (snapshot paths recreated below it): `coffer restore
 * --json` when this build has the command (the result must say exit 0), else the library.
 */
export async function restoreSnapshot(sb: Pick<Sandbox, "open" | "repo" | "env" | "dir">, snapshotId: string, target: string): Promise<Pick<RestoreResult, "errors" | "filesRestored">> {
  if (hasCommand("restore")) {
    const r = await runCli(["-r", sb.repo, "--json", "restore", snapshotId, "--target", target], { env: sb.env, cwd: sb.dir });
    if (r.code !== 0) throw new Error(`coffer restore ${snapshotId.slice(0, 8)} exited ${r.code}:\n${r.err}`);
    return JSON.parse(r.out) as RestoreResult;
  }
  const repo = await sb.open();
  try {
    const snap = (await listSnapshots(repo)).find((s) => s.id === snapshotId);
    if (!snap) throw new Error(`snapshot ${snapshotId} is not in the repository`);
    return await restore(repo, { snapshot: snap, target, workers: 2 });
  } finally {
    await repo.close();
  }
}

export async function snapshots(sb: Pick<Sandbox, "open">): Promise<SnapshotWithId[]> {
  const repo = await sb.open();
  try {
    return await listSnapshots(repo);
  } finally {
    await repo.close();
  }
}

// ---------------------------------------------------------------- repository files

/**
 * Every file below the repository (or one of its directories): "path size", sorted, temp
 * files included. Files that vanish while it looks (a running backup's temp files) are left out.
 */
export function repoFiles(repo: string, under = ""): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(join(repo, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      let st;
      try {
        st = lstatSync(join(repo, r));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      if (st.isDirectory()) walk(r);
      else out.push(`${r} ${st.size}`);
    }
  };
  walk(under);
  return out.sort();
}

/** Names of the files of one type directory (`snapshots`, `index`, `locks`, `data`), temp files left out. */
export function repoNames(repo: string, type: "snapshots" | "index" | "locks" | "data" | "keys"): string[] {
  return repoFiles(repo, type)
    .map((l) => l.split(" ")[0] as string)
    .map((p) => p.slice(p.lastIndexOf("/") + 1))
    .filter((n) => !n.startsWith("."));
}

/** Temp files (`.tmp-*`) anywhere in the repository: what an interrupted save leaves. */
export function repoTempFiles(repo: string): string[] {
  return repoFiles(repo).filter((l) => /(^|\/)\.tmp-/.test(l));
}

// ---------------------------------------------------------------- test data

/** Deterministic-enough text that compresses (about `size` bytes). */
export function textBytes(size: number, seed: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const l = `${seed}:${i} the quick brown fox jumps over the lazy dog ${(i * 7919 + seed * 31) % 100003}\n`;
    parts.push(l);
    n += l.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

export function writeFile(path: string, data: Buffer | string, mode?: number): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, data);
  if (mode !== undefined) chmodSync(path, mode);
}

/**
 * A tree of `small` small files (1–24 KiB, half text, half random) in nested directories,
 * plus one random file per entry of `big` (bytes). Returns the bytes written.
 */
export function makeTree(root: string, opts: { small: number; big: number[]; seed?: number }): number {
  const seed = opts.seed ?? 1;
  let total = 0;
  for (let i = 0; i < opts.small; i++) {
    const size = 1024 + ((i * 2654435761 + seed) % (23 * 1024));
    const data = i % 2 === 0 ? textBytes(size, seed * 100000 + i) : randomBytes(size);
    writeFile(join(root, `d${i % 7}`, `s${(i >> 3) % 5}`, `f${seed}-${i}.${i % 2 ? "bin" : "txt"}`), data);
    total += size;
  }
  opts.big.forEach((size, i) => {
    writeFile(join(root, `big-${seed}-${i}.bin`), randomBytes(size));
    total += size;
  });
  return total;
}

// ---------------------------------------------------------------- digests

/**
 * What a directory holds, for comparing a restore with its source: one line per entry
 * (relative path → type, permission bits, size and SHA-256 of files, link targets).
 */
export function digestTree(root: string, skip: (rel: string) => boolean = () => false, cache?: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const p = join(root, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `symlink ${readlinkSync(p)}`;
      else if (st.isFile()) {
        // With a cache, a file whose inode, size and times are as before is not hashed again.
        const key = `${p}\0${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
        let sum = cache?.get(key);
        if (sum === undefined) {
          sum = createHash("sha256").update(readFileSync(p)).digest("hex");
          cache?.set(key, sum);
        }
        out[r] = `file ${mode} ${st.size} ${sum}`;
      }
      else out[r] = `other ${mode}`;
    }
  };
  walk("");
  return out;
}

/**
 * What a snapshot holds below `root`, in digestTree's format, read through the repository
 * (every tree and data blob loaded, so verified against its id; file contents hashed, memoised
 * by content list in `memo`): the facts a restore would give, without writing the files.
 */
export async function snapshotDigest(repo: Repository, snap: SnapshotWithId, root: string, memo: Map<string, string>): Promise<Record<string, string>> {
  let tree = snap.tree;
  for (const name of root.split("/").filter(Boolean)) {
    const n = decodeTree(await repo.loadBlob("tree", Buffer.from(tree, "hex"))).nodes.find((x) => x.name === name);
    if (!n?.subtree) throw new Error(`${name} is not a directory in snapshot ${snap.id.slice(0, 8)}`);
    tree = n.subtree;
  }
  const out: Record<string, string> = {};
  const walk = async (id: string, rel: string): Promise<void> => {
    for (const n of decodeTree(await repo.loadBlob("tree", Buffer.from(id, "hex"))).nodes) {
      const r = rel ? `${rel}/${n.name}` : n.name;
      const mode = n.mode.toString(8);
      if (n.type === "dir") {
        out[r] = `dir ${mode}`;
        await walk(n.subtree as string, r);
      } else if (n.type === "symlink") out[r] = `symlink ${n.linktarget}`;
      else if (n.type === "file") {
        const key = (n.content ?? []).join(",");
        let sum = memo.get(key);
        if (sum === undefined) {
          const h = createHash("sha256");
          let size = 0;
          for (const blob of n.content ?? []) {
            const b = await repo.loadBlob("data", Buffer.from(blob, "hex"));
            h.update(b);
            size += b.length;
          }
          memo.set(key, (sum = `${size} ${h.digest("hex")}`));
        }
        out[r] = `file ${mode} ${sum}`;
      } else out[r] = `other ${mode}`;
    }
  };
  await walk(tree, "");
  return out;
}

/** Restores a snapshot into a fresh dir and returns the digest of the restored `src`. */
export async function restoredDigest(sb: Pick<Sandbox, "open" | "repo" | "env" | "dir">, snapshotId: string, src: string, name: string): Promise<Record<string, string>> {
  const target = join(sb.dir, `restore-${name}`);
  const r = await restoreSnapshot(sb, snapshotId, target);
  if (r.errors.length) throw new Error(`restore of ${snapshotId.slice(0, 8)} had errors: ${JSON.stringify(r.errors)}`);
  const d = digestTree(join(target, src));
  await rm(target, { recursive: true, force: true });
  return d;
}

/** The lines of stderr that are the error report (not warnings or progress). */
export function assertOneSentence(err: string): string {
  const lines = err.split("\n").filter((l) => l.trim() !== "");
  const errLines = lines.filter((l) => l.startsWith("coffer:"));
  if (errLines.length !== 1) throw new Error(`expected one "coffer:" error line, got:\n${err}`);
  if (lines.some((l) => /^\s+at /.test(l))) throw new Error(`a stack trace was printed:\n${err}`);
  const line = errLines[0] as string;
  if (/unexpected error/.test(line)) throw new Error(`an unexpected (unmapped) error was printed:\n${err}`);
  return line;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * SIGKILLs a running CLI child when `at` comes: after `at` ms, or once `at.until()` is true
 * (checked every `at.pollMs` ms; 0: at every turn of the event loop, for phases that last a few
 * ms). Sooner if it exits by itself (then it is not killed). Returns how it ended.
 */
export async function killAt(child: CliChild, at: number | { until: () => boolean; pollMs?: number }): Promise<CliRun> {
  let exited = false;
  void child.done.then(() => (exited = true));
  if (typeof at === "number") await Promise.race([sleep(at), child.done]);
  else {
    const wait = (): Promise<void> => (at.pollMs ? sleep(at.pollMs) : new Promise((r) => setImmediate(r)));
    while (!exited && !at.until()) await wait();
  }
  child.child.kill("SIGKILL");
  return child.done;
}
