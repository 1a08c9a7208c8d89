import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { baseEnv, type CliRun, digestTree, makeTree, runCli } from "../faults/fault-helpers.js";
import { expectOk } from "../faults/s3-fault-helpers.js";
import { bucketName, removeBucket, type S3Server, startS3Server } from "./s3-server.js";

/**
 * `coffer` run as a user runs it against a remote repository, in a scratch directory `dir`
 * (set by the test's `before`) whose `home` is the user's home. `envOf` gives the environment
 * of that user; the methods are arrow functions, so they may be taken off the object.
 */
export class RemoteCli {
  dir = "";

  constructor(private readonly envOf: (home: string, extra: Record<string, string>) => Record<string, string>) {}

  get home(): string {
    return join(this.dir, "home");
  }

  /** The environment of a user with working credentials (and nothing else inherited). */
  readonly env = (extra: Record<string, string> = {}): Record<string, string> => {
    mkdirSync(this.home, { recursive: true });
    return this.envOf(this.home, extra);
  };

  readonly cli = (url: string, argv: string[], extra: Record<string, string> = {}): Promise<CliRun> => runCli(["-r", url, ...argv], { env: this.env(extra), cwd: this.dir });

  /** Backs up `src` with --json and returns the new snapshot's id. */
  readonly backupId = async (url: string, src: string, extra: Record<string, string> = {}): Promise<string> => {
    const r = await this.cli(url, ["--json", "backup", src], extra);
    expectOk(r, "backup");
    const id = (JSON.parse(r.out) as { snapshot_id: string }).snapshot_id;
    assert.match(id, /^[0-9a-f]{64}$/);
    return id;
  };

  /** Restores `snapshot` into a fresh directory and returns the digest of its copy of `src`. */
  readonly restoredDigest = async (url: string, snapshot: string, src: string): Promise<Record<string, string>> => {
    const target = join(this.dir, `restore-${randomBytes(4).toString("hex")}`);
    const r = await this.cli(url, ["-v", "restore", snapshot, "--target", target]);
    expectOk(r, "restore");
    // A restore from a remote repository favours speed over memory (core/gc.ts).
    assert.match(r.err, /packs are fetched through the main thread: V8's memory-saving mode is off for this restore/);
    const d = digestTree(join(target, src));
    await rm(target, { recursive: true, force: true });
    return d;
  };

  /**
   * The round trip every remote test starts with: `init` (which names the repository), two
   * backups of a tree made at `src` with a file added between them, both restored and compared.
   */
  readonly roundTrip = async (url: string, src: string): Promise<{ firstDigest: Record<string, string> }> => {
    makeTree(src, { small: 40, big: [3 << 20, 20 << 20] });

    const init = await this.cli(url, ["init"]);
    expectOk(init, "init");
    assert.match(init.out, new RegExp(`created coffer repository [0-9a-f]{10} at ${url.replace(/[.]/g, "\\.")}`));
    const first = await this.backupId(url, src);
    writeFileSync(join(src, "d0", "changed.txt"), "a new file\n");
    const second = await this.backupId(url, src);

    assert.deepEqual(await this.restoredDigest(url, second, src), digestTree(src));
    const firstDigest = await this.restoredDigest(url, first, src);
    assert.equal(firstDigest["d0/changed.txt"], undefined);
    return { firstDigest };
  };

  /**
   * After a backup of `src` was killed: only the snapshot `earlyId` (of `early`) is listed, a new
   * backup of `src` completes, both restore exactly and check --read-data passes.
   */
  readonly expectRecovered = async (url: string, earlyId: string, early: string, src: string): Promise<void> => {
    const snaps = await this.cli(url, ["--json", "snapshots"]);
    expectOk(snaps, "snapshots");
    assert.deepEqual((JSON.parse(snaps.out) as { id: string }[]).map((s) => s.id), [earlyId], "the interrupted backup saved no snapshot");
    const id = await this.backupId(url, src);
    assert.deepEqual(await this.restoredDigest(url, id, src), digestTree(src));
    assert.deepEqual(await this.restoredDigest(url, earlyId, early), digestTree(early));
    expectOk(await this.cli(url, ["check", "--read-data"]), "check --read-data");
  };
}

/** A RemoteCli against an S3 server started for the test file, with the buckets it made. */
export class S3Sandbox extends RemoteCli {
  server!: S3Server;
  readonly buckets: string[] = [];

  constructor() {
    super((home, extra) => baseEnv(home, { ...this.server.env, ...extra }));
  }

  /** A new bucket name, removed with the sandbox. */
  readonly newBucket = (tag: string): string => {
    const b = bucketName(tag);
    this.buckets.push(b);
    return b;
  };
}

/**
 * Registers the test file's hooks: before, an S3 server (its credentials also put in
 * process.env) and a scratch directory named after `prefix`; after, the buckets, the server and
 * the directory removed.
 */
export function s3Sandbox(prefix: string): S3Sandbox {
  const sb = new S3Sandbox();
  before(
    async () => {
      sb.server = await startS3Server();
      Object.assign(process.env, sb.server.env);
      sb.dir = await mkdtemp(join(tmpdir(), prefix));
    },
    { timeout: 180_000 },
  );
  after(
    async () => {
      const deadline = Date.now() + 20_000; // emptying buckets is a courtesy, bounded
      for (const b of sb.buckets) await removeBucket(sb.server, b, deadline);
      await sb.server?.stop();
      await rm(sb.dir, { recursive: true, force: true });
    },
    { timeout: 180_000 },
  );
  return sb;
}
