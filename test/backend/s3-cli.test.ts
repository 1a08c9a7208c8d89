import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { baseEnv, type CliRun, digestTree, makeTree, PASSWORD, runCli, sleep, spawnCli } from "../faults/fault-helpers.js";
import { expectFailure, expectOk, unreachable } from "../faults/s3-fault-helpers.js";
import { bucketName, freePort, type Gateway, removeBucket, type S3Server, startGateway, startS3Server } from "../helpers/s3-server.js";
import { listAll } from "./suite.js";

/**
 * `coffer` against an S3 repository, end to end, as a user runs it: init, backup, check,
 * restore; the usual mistakes (wrong credentials, unknown bucket, a bucket that holds no
 * repository, TLS, a failing server) each give one sentence and the exit code of the CLI
 * conventions; and a gateway killed in the middle of a backup.
 */
let server: S3Server;
let dir: string;
const buckets: string[] = [];

before(
  async () => {
    server = await startS3Server();
    Object.assign(process.env, server.env);
    dir = await mkdtemp(join(tmpdir(), "coffer-s3-cli-"));
  },
  { timeout: 180_000 },
);
after(
  async () => {
    for (const b of buckets) await removeBucket(server, b);
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  },
  { timeout: 60_000 },
);

function newBucket(tag: string): string {
  const b = bucketName(tag);
  buckets.push(b);
  return b;
}

/** The environment of a user with working credentials (and nothing else inherited). */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const home = join(dir, "home");
  mkdirSync(home, { recursive: true });
  return baseEnv(home, { ...server.env, ...extra });
}

function cli(url: string, argv: string[], extra: Record<string, string> = {}): Promise<CliRun> {
  return runCli(["-r", url, ...argv], { env: env(extra), cwd: dir });
}

async function restoredDigest(url: string, snapshot: string, src: string): Promise<Record<string, string>> {
  const target = join(dir, `restore-${randomBytes(4).toString("hex")}`);
  expectOk(await cli(url, ["restore", snapshot, "--target", target]), "restore");
  const d = digestTree(join(target, src));
  await rm(target, { recursive: true, force: true });
  return d;
}

async function backupId(url: string, src: string, extra: Record<string, string> = {}): Promise<string> {
  const r = await cli(url, ["--json", "backup", src], extra);
  expectOk(r, "backup");
  const id = (JSON.parse(r.out) as { snapshot_id: string }).snapshot_id;
  assert.match(id, /^[0-9a-f]{64}$/);
  return id;
}

describe("coffer with an S3 repository", { timeout: 600_000 }, () => {
  it("is tested against a named server", (t) => t.diagnostic(server.note));

  it("inits, backs up, checks every byte and restores exactly", async () => {
    const bucket = newBucket("e2e");
    const url = `s3:${server.endpoint}/${bucket}/prefix/repo`;
    const src = join(dir, "src-roundtrip");
    makeTree(src, { small: 40, big: [3 << 20, 20 << 20] });

    const init = await cli(url, ["init"]);
    expectOk(init, "init");
    assert.match(init.out, new RegExp(`created coffer repository [0-9a-f]{10} at ${url.replace(/[.]/g, "\\.")}`));
    const first = await backupId(url, src);
    writeFileSync(join(src, "d0", "changed.txt"), "a new file\n");
    const second = await backupId(url, src);

    assert.deepEqual(await restoredDigest(url, second, src), digestTree(src));
    const firstDigest = await restoredDigest(url, first, src);
    assert.equal(firstDigest["d0/changed.txt"], undefined);
    assert.equal(Object.keys(firstDigest).length, Object.keys(digestTree(src)).length - 1);
    // Last: a full data check stamps the snapshots, which gives them new ids.
    const check = await cli(url, ["check", "--read-data"]);
    expectOk(check, "check --read-data");

    expectFailure(await cli(url, ["init"]), 1, /^coffer: A repository already exists at s3:http:/);
  });

  it("refuses wrong credentials in one sentence, exit 1", async (t) => {
    if (server.kind !== "ceph") return t.skip("s3rver does not check credentials");
    const bucket = newBucket("creds");
    const url = `s3:${server.endpoint}/${bucket}`;
    expectOk(await cli(url, ["init"]), "init");
    expectFailure(await cli(url, ["snapshots"], { AWS_SECRET_ACCESS_KEY: "not-the-secret" }), 1, /SignatureDoesNotMatch.*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\)/);
    expectFailure(await cli(url, ["snapshots"], { AWS_ACCESS_KEY_ID: "NOSUCHKEY0000" }), 1, /InvalidAccessKeyId/);
    expectFailure(await cli(`s3:${server.endpoint}/${newBucket("creds2")}`, ["init"], { AWS_SECRET_ACCESS_KEY: "not-the-secret" }), 1, /denied access|SignatureDoesNotMatch/);
  });

  it("says when no credentials are set at all, exit 1", async () => {
    const e = env();
    delete e["AWS_ACCESS_KEY_ID"];
    delete e["AWS_SECRET_ACCESS_KEY"];
    const r = await runCli(["-r", `s3:${server.endpoint}/${newBucket("nocreds")}`, "snapshots"], { env: e, cwd: dir });
    expectFailure(r, 1, /^coffer: No S3 credentials were found for s3:http:.*; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
  });

  it("names an unknown bucket, exit 10", async () => {
    const r = await cli(`s3:${server.endpoint}/no-such-bucket-here/repo`, ["snapshots"]);
    expectFailure(r, 10, /^coffer: The bucket "no-such-bucket-here" does not exist on http:\/\/127\.0\.0\.1:\d+; check the repository URL, or create the repository with "coffer init -r s3:http:/);
  });

  it("says a bucket without a repository holds none, exit 10", async () => {
    const bucket = newBucket("notrepo");
    const b = wrapBackend(openBackend(`s3:${server.endpoint}/${bucket}`));
    await b.create();
    await b.close();
    const r = await cli(`s3:${server.endpoint}/${bucket}/repo`, ["snapshots"]);
    expectFailure(r, 10, /^coffer: There is no repository at s3:http:\/\/127\.0\.0\.1:\d+\/notrepo-[0-9a-f]+\/repo; create one with "coffer init"/);
  });

  it("reports TLS to a plain HTTP server, an unreachable server and a server failing with 500, exit 1", async () => {
    const quick = { COFFER_BACKEND_RETRIES: "2" };
    const plain = server.endpoint.replace(/^http:/, "https:");
    expectFailure(await cli(`s3:${plain}/bucket`, ["snapshots"], quick), 1, /^coffer: The TLS connection to https:.* failed \(the server does not speak TLS on that port\)/);
    const closed = await freePort();
    expectFailure(await cli(`s3:http://127.0.0.1:${closed}/bucket`, ["snapshots"], quick), 1, /^coffer: Cannot reach the S3 server http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) while loading config/);
    let requests = 0;
    const failing = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(500, { "content-type": "application/xml" }).end("<Error><Code>InternalError</Code><Message>boom</Message></Error>");
    });
    await new Promise<void>((r) => failing.listen(0, "127.0.0.1", r));
    try {
      const port = (failing.address() as { port: number }).port;
      expectFailure(await cli(`s3:http://127.0.0.1:${port}/bucket`, ["snapshots"], quick), 1, /^coffer: The S3 server http:\/\/127\.0\.0\.1:\d+ failed \(HTTP 500 InternalError\) while loading config/);
      assert.equal(requests, 3, "the first try and two retries");
    } finally {
      failing.close();
    }
  });

  it("survives the server killed in the middle of a backup: a clear error, no damage, the next run completes", async (t) => {
    if (!server.cephConf) {
      t.skip(`needs Ceph to kill a gateway (${server.note})`);
      return;
    }
    let gw: Gateway | undefined;
    try {
      gw = await startGateway(server);
      const bucket = newBucket("kill");
      const url = `s3:${gw.endpoint}/${bucket}/repo`;
      // Small packs, so the backup uploads many and is surely in the middle when the gateway dies.
      const init = wrapBackend(openBackend(url));
      await (await Repository.init(init, { password: PASSWORD, kdf: TEST_KDF, packSize: 1 << 20 })).close();
      const early = join(dir, "src-early");
      makeTree(early, { small: 20, big: [2 << 20], seed: 7 });
      const earlyId = await backupId(url, early);

      const src = join(dir, "src-kill");
      makeTree(src, { small: 10, big: [24 << 20, 24 << 20], seed: 8 });
      // Watch the bucket through the cluster's main gateway, which stays up.
      const watcher = wrapBackend(openBackend(`s3:${server.endpoint}/${bucket}/repo`));
      const before = (await listAll(watcher, "data")).length;
      const run = spawnCli(["-r", url, "backup", src], { env: env({ COFFER_BACKEND_RETRIES: "2" }), cwd: dir });
      let uploaded = 0;
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(50)) {
        uploaded = (await listAll(watcher, "data")).length - before;
        if (uploaded >= 5 || run.child.exitCode !== null) break;
      }
      assert.ok(uploaded >= 5, `the backup uploaded ${uploaded} packs before it ended:\n${run.err()}`);
      await gw.kill();
      const killed = await run.done;
      expectFailure(killed, 1, unreachable(gw.endpoint));
      t.diagnostic(`killed after ${uploaded} packs; the backup failed with: ${killed.err.trim()}`);

      await gw.start();
      const snaps = await cli(url, ["--json", "snapshots"]);
      expectOk(snaps, "snapshots");
      assert.deepEqual((JSON.parse(snaps.out) as { id: string }[]).map((s) => s.id), [earlyId], "the interrupted backup saved no snapshot");
      const id = await backupId(url, src);
      assert.deepEqual(await restoredDigest(url, id, src), digestTree(src));
      assert.deepEqual(await restoredDigest(url, earlyId, early), digestTree(early));
      expectOk(await cli(url, ["check", "--read-data"]), "check --read-data");
      await watcher.close();
      await init.close();
    } finally {
      await gw?.kill();
    }
  });
});
