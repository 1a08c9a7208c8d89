/**
 * Reading the facts that status and health judge, for a process beside the daemon (`coffer
 * status`, `coffer health`): the daemon's state file and pid file (read only), every repository
 * (opened with few retries, so an unreachable one is reported quickly), and the free space of
 * the disks of local repositories and of the state folder.
 */
import { stat, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CofferConfig } from "../config/types.js";
import type { DiskFacts, HealthFacts } from "./health.js";
import { daemonAlive, type DaemonInfo, readDaemonInfo } from "./pid-lock.js";
import { probeRepository, type RepositoryReport } from "./repository-facts.js";
import { daemonStateDir, type DaemonState, type Env, FileStateStore } from "./state.js";

/** The files of the daemon of a configuration. */
export interface DaemonPaths {
  dir: string;
  state: string;
  pid: string;
  log: string;
}

export function daemonPaths(config: Pick<CofferConfig, "file" | "dir">, env: Env, dir?: string): DaemonPaths {
  const d = dir ?? daemonStateDir(config.file ?? join(config.dir, "coffer.yaml"), env);
  return { dir: d, state: join(d, "state.json"), pid: join(d, "daemon.pid"), log: join(d, "daemon.log") };
}

export interface GatheredFacts extends HealthFacts {
  paths: DaemonPaths;
  state: DaemonState;
  daemonInfo?: DaemonInfo;
  warnings: string[];
}

export interface GatherOptions {
  config: CofferConfig;
  env: Env;
  now: Date;
  signal?: AbortSignal;
  /** Override of the state folder (tests). */
  stateDir?: string;
}

export async function gatherFacts(o: GatherOptions): Promise<GatheredFacts> {
  const paths = daemonPaths(o.config, o.env, o.stateDir);
  const warnings: string[] = [];
  const state = await new FileStateStore(paths.state, { readOnly: true, onWarning: (m) => warnings.push(m) }).load();
  const info = await readDaemonInfo(paths.pid);
  const repositories = await Promise.all(
    Object.values(o.config.repositories).map((rc) => probeRepository(rc, { env: o.env, now: o.now, attempts: 2, ...(o.signal ? { signal: o.signal } : {}) })),
  );
  const disks = await diskFacts(o.config, repositories, paths.dir);
  return {
    now: o.now,
    thresholds: o.config.health,
    jobs: Object.values(o.config.jobs),
    state,
    repositories,
    disks,
    daemon: info !== undefined && daemonAlive(info) ? { running: true, pid: info.pid, startedAt: info.startedAt, stateDir: paths.dir } : { running: false, stateDir: paths.dir },
    logFile: paths.log,
    paths,
    ...(info !== undefined ? { daemonInfo: info } : {}),
    warnings,
  };
}

/** Free space of the disks holding local repositories and the state folder, once per disk. */
export async function diskFacts(config: Pick<CofferConfig, "repositories">, reports: readonly RepositoryReport[], stateDir: string): Promise<DiskFacts[]> {
  const wanted: { path: string; what: string }[] = [];
  for (const rc of Object.values(config.repositories)) {
    if (rc.backend === "local" && reports.find((r) => r.name === rc.name)?.errorCode !== "REPO_MISSING") wanted.push({ path: rc.url, what: `repository ${rc.name}` });
  }
  wanted.push({ path: stateDir, what: "the daemon's state" });
  const out: DiskFacts[] = [];
  const seen = new Set<string>();
  for (const w of wanted) {
    const found = await statfsUp(w.path);
    if (found === undefined) continue;
    // One line per file system.
    const key = String(found.dev);
    if (seen.has(key)) continue;
    seen.add(key);
    const s = found.fs;
    out.push({ path: w.path, what: w.what, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize });
  }
  return out;
}

/** statfs (and the device) of the path, or of its nearest existing parent. */
async function statfsUp(path: string): Promise<{ dev: number; fs: { bsize: number; blocks: number; bavail: number } } | undefined> {
  let p = path;
  for (let i = 0; i < 64; i++) {
    try {
      return { dev: (await stat(p)).dev, fs: await statfs(p) };
    } catch {
      const up = dirname(p);
      if (up === p) return undefined;
      p = up;
    }
  }
  return undefined;
}
