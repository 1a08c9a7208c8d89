import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestTree, makeTree, PASSWORD, runCli, type Sandbox, sandbox } from "../faults/fault-helpers.js";
import { HAVE_RCLONE, type RcloneServer, startRcloneServer } from "../helpers/rclone-server.js";

/**
 * The CLI end to end over `rest:` (rclone serve restic on loopback): init, backup, check
 * --read-data, restore byte-exact; then `copy` from it into an `rclone:` repository that the
 * driver serves itself, which checks out too.
 */
describe("coffer over rest: and rclone:", { skip: HAVE_RCLONE ? false : "rclone is not installed (apt-get install rclone)", timeout: 120_000 }, () => {
  let server: RcloneServer;
  let sb: Sandbox;
  let repo: string;
  before(async () => {
    server = await startRcloneServer();
    sb = await sandbox("rest-cli", { init: false });
    repo = `rest:${server.url}repo`;
    makeTree(sb.src, { small: 60, big: [3 * 1024 * 1024], seed: 3 });
  });
  after(async () => {
    await sb?.cleanup();
    await server?.stop();
  });
  const cli = (argv: string[], env: Record<string, string> = {}) => runCli(argv, { env: { ...sb.env, ...env }, cwd: sb.dir });

  it("init, backup, check --read-data and restore byte-exact over rest:", async () => {
    for (const argv of [["-r", repo, "init"], ["-r", repo, "backup", sb.src], ["-r", repo, "check", "--read-data"]]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, `${argv.join(" ")}:\n${r.err}`);
    }
    const target = join(sb.dir, "restored");
    const r = await cli(["-r", repo, "-v", "restore", "latest", "--target", target]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /packs are fetched through the main thread: V8's memory-saving mode is off for this restore/);
    assert.deepEqual(digestTree(join(target, sb.src)), digestTree(sb.src));
  });

  it("copies into an rclone: repository, which checks out", async () => {
    const dest = `rclone:${join(sb.dir, "rclone-repo")}`;
    const init = await cli(["-r", dest, "init", "--copy-params-from", repo], { COFFER_FROM_PASSWORD: PASSWORD });
    assert.equal(init.code, 0, init.err);
    const c = await cli(["--json", "copy", "--from-repo", repo, "--to-repo", dest], { COFFER_FROM_PASSWORD: PASSWORD });
    assert.equal(c.code, 0, c.err);
    assert.equal((JSON.parse(c.out) as { copied: unknown[] }).copied.length, 1);
    const check = await cli(["-r", dest, "check", "--read-data"]);
    assert.equal(check.code, 0, check.err);
  });
});
