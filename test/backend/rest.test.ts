import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend } from "../../src/backend/open.js";
import { RcloneBackend } from "../../src/backend/rclone.js";
import { RestBackend } from "../../src/backend/rest.js";
import { isCofferError } from "../../src/core/errors.js";
import { HAVE_RCLONE, type RcloneServer, startRcloneServer } from "../helpers/rclone-server.js";
import { handle, rejection, runBackendSuite } from "./suite.js";

/**
 * The REST driver against a real server: `rclone serve restic` (Debian `rclone`) serving a
 * temp directory, one server for the whole file and one fresh repository path per case; and
 * the rclone driver, which starts such a server itself.
 */
describe("rest and rclone backends", { timeout: 180_000, skip: HAVE_RCLONE ? false : "rclone is not installed (apt-get install rclone)" }, () => {
  let server: RcloneServer;
  let n = 0;
  before(async () => {
    server = await startRcloneServer();
  });
  after(() => server?.stop());

  runBackendSuite("rest (rclone serve restic)", async () => ({ backend: new RestBackend({ url: `${server.url}repo${++n}` }), cleanup: async () => {} }));

  it("opens rest: URLs, hides the password in the location, and reports a missing server as a transient error", async () => {
    const b = openBackend("rest:http://me:secret@127.0.0.1:1/x");
    assert.equal(b.location, "rest:http://me@127.0.0.1:1/x/");
    assert.equal(b.properties.kind, "rest");
    const err = await rejection(b.stat(handle("snapshot")));
    assert.ok(isCofferError(err, "BACKEND"), String(err));
    assert.match((err as Error).message, /nothing listens there/);
    assert.ok(!b.isPermanent(err) && !b.isNotFound(err));
    await b.close();
  });

  it("refuses wrong credentials with a permanent error naming them", async () => {
    const locked = await startRcloneServer({ user: "u", pass: "right" });
    try {
      const b = new RestBackend({ url: locked.url.replace("http://", "http://u:wrong@") + "repo" });
      const err = await rejection(b.create());
      assert.ok(b.isPermanent(err), String(err));
      assert.match((err as Error).message, /user and password/);
      await b.close();
      const ok = new RestBackend({ url: locked.url.replace("http://", "http://u:right@") + "repo" });
      await ok.create();
      await ok.close();
    } finally {
      await locked.stop();
    }
  });

  it("rclone: starts its own server on first use and stops it on close", async () => {
    const dir = await mkdtemp(join(tmpdir(), "coffer-rclone-"));
    try {
      const b = openBackend(`rclone:${dir}/repo`) as RcloneBackend;
      assert.equal(b.location, `rclone:${dir}/repo`);
      await b.create();
      const h = handle("data");
      await b.save(h, Buffer.from("hello"));
      assert.equal((await b.load(h, { offset: 1, length: 3 })).toString(), "ell");
      assert.equal(execFileSync("find", [dir, "-type", "f", "-name", h.name]).toString().trim(), join(dir, "repo", "data", h.name.slice(0, 2), h.name));
      await b.close();
      await assert.rejects(b.stat(h));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  runBackendSuite("rclone (serve restic, started by the driver)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "coffer-rclone-suite-"));
    return { backend: new RcloneBackend({ remote: join(dir, "repo") }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  });
});
