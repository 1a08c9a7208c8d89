import { test } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { deadPid, saveLockFile } from "../repository/lock-helpers.js";
import { makeCliRepo } from "./cli-repo.js";

test("unlock removes a stale lock (dead pid on this host) and keeps a live one", async () => {
  const r = await makeCliRepo();
  try {
    const repo = await r.open();
    const now = new Date().toISOString();
    const stale = await saveLockFile(repo, { time: now, hostname: hostname(), pid: deadPid(), exclusive: false });
    const old = await saveLockFile(repo, { time: "2020-01-01T00:00:00.000Z", hostname: "elsewhere", pid: 1, exclusive: true });
    const live = await saveLockFile(repo, { time: now, hostname: hostname(), pid: process.pid, exclusive: false });
    const res = await r.run(["unlock", "--json"]);
    assert.equal(res.code, 0, res.err);
    assert.deepEqual((JSON.parse(res.out) as { removed: string[] }).removed.sort(), [stale, old].sort());
    assert.deepEqual(await repo.listIds("lock"), [live]);
    const again = await r.run(["unlock"]);
    assert.equal(again.out, "no stale locks\n");
    const all = await r.run(["unlock", "--remove-all"]);
    assert.equal(all.out, `removed lock ${live.slice(0, 8)}\n1 lock removed\n`);
    assert.deepEqual(await repo.listIds("lock"), []);
    await repo.close();
  } finally {
    await r.cleanup();
  }
});
