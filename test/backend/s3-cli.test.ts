import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { digestTree, makeTree, PASSWORD, runCli, sleep, spawnCli } from "../faults/fault-helpers.js";
import { expectFailure, expectOk, unreachable } from "../faults/s3-fault-helpers.js";
import { freePort, type Gateway, startGateway } from "../helpers/s3-server.js";
import { s3Sandbox } from "../helpers/remote-cli.js";
import { listAll } from "./suite.js";

/**
 * `coffer` against an S3 repository, end to end, as a user runs it: init, backup, check,
 * restore; the usual mistakes (wrong credentials, unknown bucket, a bucket that holds no
 * repository, TLS, a failing server) each give one sentence and the exit code of the CLI
 * conventions; and a gateway killed in the middle of a backup.
 */
const sb = s3Sandbox("coffer-s3-cli-");
const { env, cli, backupId, roundTrip, expectRecovered, newBucket } = sb;

describe("coffer with an S3 repository", { timeout: 600_000 }, () => {
  it("is tested against a named server", (t) => t.diagnostic(sb.server.note));

  it("inits, backs up, checks every byte and restores exactly", async () => {
    const bucket = newBucket("e2e");
    const url = `s3:${sb.server.endpoint}/${bucket}/prefix/repo`;
    const src = join(sb.dir, "src-roundtrip");
    const { firstDigest } = await roundTrip(url, src);
    assert.equal(Object.keys(firstDigest).length, Object.keys(digestTree(src)).length - 1);
    // Last: a full data check stamps the snapshots, which gives them new ids.
    const check = await cli(url, ["check", "--read-data"]);
    expectOk(check, "check --read-data");

    expectFailure(await cli(url, ["init"]), 1, /^coffer: A repository already exists at s3:http:/);
  });

  it("refuses wrong credentials in one sentence, exit 1", async (t) => {
    if (sb.server.kind !== "ceph") return t.skip("s3rver does not check credentials");
    const bucket = newBucket("creds");
    const url = `s3:${sb.server.endpoint}/${bucket}`;
    expectOk(await cli(url, ["init"]), "init");
    expectFailure(await cli(url, ["snapshots"], { AWS_SECRET_ACCESS_KEY: "not-the-secret" }), 1, /SignatureDoesNotMatch.*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(or AWS_PROFILE\)/);
    expectFailure(await cli(url, ["snapshots"], { AWS_ACCESS_KEY_ID: "NOSUCHKEY0000" }), 1, /InvalidAccessKeyId/);
    expectFailure(await cli(`s3:${sb.server.endpoint}/${newBucket("creds2")}`, ["init"], { AWS_SECRET_ACCESS_KEY: "not-the-secret" }), 1, /denied access|SignatureDoesNotMatch/);
  });

  it("says when no credentials are set at all, exit 1", async () => {
    const e = env();
    delete e["AWS_ACCESS_KEY_ID"];
    delete e["AWS_SECRET_ACCESS_KEY"];
    const r = await runCli(["-r", `s3:${sb.server.endpoint}/${newBucket("nocreds")}`, "snapshots"], { env: e, cwd: sb.dir });
    expectFailure(r, 1, /^coffer: No S3 credentials were found for s3:http:.*; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
  });

  it("names an unknown bucket, exit 10", async () => {
    const r = await cli(`s3:${sb.server.endpoint}/no-such-bucket-here/repo`, ["snapshots"]);
    expectFailure(r, 10, /^coffer: The bucket "no-such-bucket-here" does not exist on http:\/\/127\.0\.0\.1:\d+; check the repository URL, or create the repository with "coffer init -r s3:http:/);
  });

  it("says a bucket without a repository holds none, exit 10", async () => {
    const bucket = newBucket("notrepo");
    const b = wrapBackend(openBackend(`s3:${sb.server.endpoint}/${bucket}`));
    await b.create();
    await b.close();
    const r = await cli(`s3:${sb.server.endpoint}/${bucket}/repo`, ["snapshots"]);
    expectFailure(r, 10, /^coffer: There is no repository at s3:http:\/\/127\.0\.0\.1:\d+\/notrepo-[0-9a-f]+\/repo; create one with "coffer init"/);
  });

  it("reports TLS to a plain HTTP server, an unreachable server and a server failing with 500, exit 1", async () => {
    const quick = { COFFER_BACKEND_RETRIES: "2" };
    const plain = sb.server.endpoint.replace(/^http:/, "https:");
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
    if (!sb.server.cephConf) {
      t.skip(`needs Ceph to kill a gateway (${sb.server.note})`);
      return;
    }
    let gw: Gateway | undefined;
    try {
      gw = await startGateway(sb.server);
      const bucket = newBucket("kill");
      const url = `s3:${gw.endpoint}/${bucket}/repo`;
      // Small packs, so the backup uploads many and is surely in the middle when the gateway dies.
      const init = wrapBackend(openBackend(url));
      await (await Repository.init(init, { password: PASSWORD, kdf: TEST_KDF, packSize: 1 << 20 })).close();
      const early = join(sb.dir, "src-early");
      makeTree(early, { small: 20, big: [2 << 20], seed: 7 });
      const earlyId = await backupId(url, early);

      const src = join(sb.dir, "src-kill");
      makeTree(src, { small: 10, big: [24 << 20, 24 << 20], seed: 8 });
      // Watch the bucket through the cluster's main gateway, which stays up.
      const watcher = wrapBackend(openBackend(`s3:${sb.server.endpoint}/${bucket}/repo`));
      const before = (await listAll(watcher, "data")).length;
      const run = spawnCli(["-r", url, "backup", src], { env: env({ COFFER_BACKEND_RETRIES: "2" }), cwd: sb.dir });
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
      await expectRecovered(url, earlyId, early, src);
      await watcher.close();
      await init.close();
    } finally {
      await gw?.kill();
    }
  });
});
