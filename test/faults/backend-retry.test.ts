import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { makeTree, runCli, type Sandbox, sandbox } from "./fault-helpers.js";
import { HAVE_RCLONE, type RcloneServer, startRcloneServer } from "../helpers/rclone-server.js";

/**
 * A request the backend retries is a warning on stderr at once (a user waiting on a server that
 * is down sees why), and one of the `warnings` of a --json result.
 */
describe("retried backend requests are warnings", { timeout: 120_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("backend-retry", { init: false });
    makeTree(sb.src, { small: 5, big: [], seed: 7 });
  });
  after(() => sb?.cleanup());

  it("a server that is down: one warning per retry, with the attempt, before the error", async () => {
    const port = await freePort();
    const repo = `rest:http://127.0.0.1:${port}/repo`;
    const r = await runCli(["-r", repo, "snapshots"], { env: { ...sb.env, COFFER_BACKEND_RETRIES: "2" }, cwd: sb.dir });
    assert.notEqual(r.code, 0, r.err);
    const lines = r.err.split("\n").filter((l) => l.startsWith("warning:"));
    assert.equal(lines.length, 2, r.err);
    lines.forEach((l, i) => assert.match(l, new RegExp(`^warning: rest:http://127\\.0\\.0\\.1:${port}/repo/: \\w+ .*failed \\(ECONNREFUSED\\); retrying in [\\d.]+ s \\(attempt ${i + 2} of 3\\)$`)));
    assert.match(r.err, /nothing listens there/);
  });

  describe("over a REST server that fails the first pack uploads", { skip: HAVE_RCLONE ? false : "rclone is not installed (apt-get install rclone)" }, () => {
    let server: RcloneServer;
    let proxy: Server;
    let failures = 0;
    let failing: string | undefined;
    let url = "";
    before(async () => {
      server = await startRcloneServer();
      const target = new URL(server.url);
      proxy = createServer((req, res) => {
        // The first pack uploaded fails `failures` times (one pack: its retries are numbered in order).
        if (req.method === "POST" && /\/data\//.test(req.url ?? "") && failures > 0 && (failing ??= req.url) === req.url) {
          failures--;
          req.resume();
          req.on("end", () => res.writeHead(503).end("busy"));
          return;
        }
        const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on("error", () => res.destroy());
        req.pipe(up);
      });
      await new Promise<void>((res) => proxy.listen(0, "127.0.0.1", res));
      url = `rest:http://127.0.0.1:${(proxy.address() as AddressInfo).port}${target.pathname}repo`;
    });
    after(async () => {
      proxy?.closeAllConnections();
      await new Promise((res) => proxy?.close(res));
      await server?.stop();
    });

    it("backup --json succeeds and lists each retry among its warnings", async () => {
      const init = await runCli(["-r", url, "init"], { env: sb.env, cwd: sb.dir });
      assert.equal(init.code, 0, init.err);
      failures = 2;
      const r = await runCli(["-r", url, "--json", "backup", sb.src], { env: sb.env, cwd: sb.dir });
      assert.equal(r.code, 0, r.err);
      assert.equal(failures, 0);
      const stderr = r.err.split("\n").filter((l) => l.startsWith("warning:"));
      assert.equal(stderr.length, 2, r.err);
      const json = JSON.parse(r.out) as { snapshot_id: string | null; warnings: { code: string; message: string }[] };
      assert.ok(json.snapshot_id);
      assert.deepEqual(
        json.warnings.map((w) => [w.code, /: save data\/\S+ failed \(HTTP 503\); retrying in [\d.]+ s \(attempt (\d) of \d+\)$/.exec(w.message)?.[1]]),
        [
          ["RETRY", "2"],
          ["RETRY", "3"],
        ],
      );
      assert.deepEqual(
        stderr,
        json.warnings.map((w) => `warning: ${w.message}`),
      );
    });
  });
});

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, "127.0.0.1", res));
  const { port } = s.address() as AddressInfo;
  await new Promise((res) => s.close(res));
  return port;
}
