// Shared by the S3 fault tests: the S3 server of the test file (Ceph RGW, s3rver outside CI),
// buckets removed afterwards, and sandboxes whose repository is an S3 URL, so that the helpers
// of fault-helpers.ts (cli, checkRepo, restoredDigest, snapshots) work on them unchanged.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileType } from "../../src/backend/backend.js";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import type { RepoConfig } from "../../src/repository/config.js";
import { Repository } from "../../src/repository/repository.js";
import { bucketName, removeBucket, type S3Server, startS3Server } from "../helpers/s3-server.js";
import { assertOneSentence, baseEnv, type CliRun, PASSWORD, runCli, type Sandbox, sleep, spawnCli } from "./fault-helpers.js";

export interface S3Faults {
  server: S3Server;
  /** A temp dir for sources, restores and homes. */
  dir: string;
  /** A bucket name of its own, removed by `cleanup`. */
  bucket(tag: string): string;
  /**
   * A sandbox (fault-helpers' shape) whose `repo` is `url`: `cli`, `spawn`, `open` and the
   * helpers that take a sandbox work on the S3 repository. `extraEnv` goes to every CLI run.
   */
  sandbox(name: string, url: string, extraEnv?: Record<string, string>): Sandbox;
  cleanup(): Promise<void>;
}

/** Starts (or finds) the S3 server and gives the process its credentials, for the library calls. */
export async function s3Faults(name: string): Promise<S3Faults> {
  const server = await startS3Server();
  Object.assign(process.env, server.env);
  const dir = await mkdtemp(join(tmpdir(), `coffer-s3-${name}-`));
  const buckets: string[] = [];
  return {
    server,
    dir,
    bucket(tag) {
      const b = bucketName(tag);
      buckets.push(b);
      return b;
    },
    sandbox(sbName, url, extraEnv = {}) {
      const sdir = join(dir, sbName);
      const home = join(sdir, "home");
      const src = join(sdir, "src");
      mkdirSync(home, { recursive: true });
      mkdirSync(src, { recursive: true });
      const env = baseEnv(home, { ...server.env, ...extraEnv });
      return {
        dir: sdir,
        home,
        src,
        repo: url,
        env,
        cli: (argv, o = {}) => runCli(["-r", url, ...argv], { env, cwd: sdir, ...o }),
        spawn: (argv, o = {}) => spawnCli(["-r", url, ...argv], { env, cwd: sdir, ...o }),
        open: () => openRepo(url),
        cleanup: () => rm(sdir, { recursive: true, force: true }),
      };
    },
    async cleanup() {
      // Bounded: emptying buckets is a courtesy to a long-lived server, not part of the test.
      const deadline = Date.now() + 20_000;
      for (const b of buckets) await removeBucket(server, b, deadline);
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function openRepo(url: string): Promise<Repository> {
  return Repository.open(wrapBackend(openBackend(url)), { password: PASSWORD });
}

/** Creates a repository at `url` (any backend) with small packs; `paramsFrom` as `init --copy-params-from`. */
export async function initRepoAt(url: string, opts: { packSize: number; paramsFrom?: RepoConfig }): Promise<void> {
  const repo = await Repository.init(wrapBackend(openBackend(url)), { password: PASSWORD, kdf: TEST_KDF, packSize: opts.packSize, ...(opts.paramsFrom ? { paramsFrom: opts.paramsFrom } : {}) });
  await repo.close();
}

/** The names of the files of one type in the repository at `url`. */
export async function listNames(url: string, type: FileType): Promise<string[]> {
  const b = wrapBackend(openBackend(url));
  try {
    const out: string[] = [];
    for await (const f of b.list(type)) out.push(f.name);
    return out.sort();
  } finally {
    await b.close();
  }
}

export function expectOk(r: CliRun, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.err}`);
}

/** One "coffer: ..." line, no stack trace, the exit code asked for; returns the line. */
export function expectFailure(r: CliRun, code: number, message: RegExp): string {
  assert.equal(r.code, code, `exit code ${r.code}, wanted ${code}:\n${r.err}`);
  const line = assertOneSentence(r.err);
  assert.match(line, message);
  return line;
}

/** The sentence a command prints when the S3 server at `endpoint` went away under it. */
export function unreachable(endpoint: string): RegExp {
  return new RegExp(`^coffer: Cannot reach the S3 server ${endpoint.replace(/[.]/g, "\\.")} \\((ECONNREFUSED|ECONNRESET|EPIPE|socket hang up)\\) while \\w+`);
}

/** Polls `cond` until it holds (true) or `stop` does; throws after `ms`. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, stop: () => boolean = () => false, ms = 120_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(20)) {
    if (await cond()) return true;
    if (stop()) return false;
  }
  throw new Error(`timed out waiting for ${what}`);
}
