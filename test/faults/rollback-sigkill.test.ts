import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { digestTree, makeTree, repoNames, restoredDigest, type Sandbox, sandbox, sleep, textBytes, writeFile } from "./fault-helpers.js";

/**
 * `coffer rollback` killed with SIGKILL while it restores (after its safety snapshot is saved,
 * at points spread over the time the restore takes) leaves a tree that is part revision, part
 * what the user had. Then:
 *
 * - a second `rollback` to the same revision repairs it: byte-exact with the revision, the
 *   ignored `node_modules` untouched, and it says an earlier rollback did not finish and
 *   which safety snapshot holds the state from before it;
 * - or `rollback` to the killed run's safety snapshot brings back exactly what the user had
 *   (nothing the user changed is lost).
 */
const KILLS = 4;

const ignored = (rel: string): boolean => rel === "node_modules" || rel.startsWith("node_modules/");

describe("rollback killed with SIGKILL", { timeout: 300_000 }, () => {
  let sb: Sandbox;
  let userState: string;
  before(async () => {
    sb = await sandbox("rollback-kill");
    makeTree(sb.src, { small: 240, big: [3_000_000, 1_500_000] });
    writeFile(join(sb.src, ".gitignore"), "node_modules/\n");
    writeFile(join(sb.src, "node_modules/dep/index.js"), "module.exports = 1;\n");
    const saved = await sb.cli(["revision", "save", "v1", sb.src, "--ignore-file", ".gitignore"]);
    assert.equal(saved.code, 0, saved.err);
    // The user's work since: big files rewritten, small ones edited, removed and added.
    writeFile(join(sb.src, "big-1-0.bin"), randomBytes(2_500_000));
    writeFile(join(sb.src, "big-1-1.bin"), randomBytes(1_500_000));
    for (let i = 0; i < 240; i += 5) writeFile(join(sb.src, `d${i % 7}`, `s${(i >> 3) % 5}`, `f1-${i}.${i % 2 ? "bin" : "txt"}`), textBytes(3000 + i, 777 + i));
    for (let i = 3; i < 240; i += 11) unlinkSync(join(sb.src, `d${i % 7}`, `s${(i >> 3) % 5}`, `f1-${i}.${i % 2 ? "bin" : "txt"}`));
    for (let i = 0; i < 30; i++) writeFile(join(sb.src, "new", `n${i}.txt`), textBytes(5000, 9000 + i));
    userState = join(sb.dir, "user-state");
    execFileSync("cp", ["-a", sb.src, userState]);
  });
  after(() => sb.cleanup());

  /** Puts the user's changed tree back in place (as a fresh copy). */
  function resetToUserState(): void {
    rmSync(sb.src, { recursive: true, force: true });
    execFileSync("cp", ["-a", userState, sb.src]);
  }

  /** Starts `rollback ref`; resolves once its safety snapshot is saved, with the time that took. */
  async function startRollback(ref: string) {
    const before = new Set(repoNames(sb.repo, "snapshots"));
    const child = sb.spawn(["rollback", ref]);
    for (;;) {
      if (repoNames(sb.repo, "snapshots").some((n) => !before.has(n))) break;
      if (child.child.exitCode !== null) throw new Error(`rollback ended before its safety snapshot:\n${child.err()}`);
      await sleep(5);
    }
    const safety = repoNames(sb.repo, "snapshots").find((n) => !before.has(n)) as string;
    return { child, safety, at: Date.now() };
  }

  it(`${KILLS} kills during the restore: a second rollback repairs the tree, the safety snapshot holds the user's files`, async (t) => {
    // What the revision holds, from a rollback that is not interrupted (calibrates the kill points too).
    resetToUserState();
    const user = digestTree(sb.src, ignored);
    const cal = await startRollback("v1");
    const calRun = await cal.child.done;
    assert.equal(calRun.code, 0, calRun.err);
    const restoreMs = Math.max(200, Date.now() - cal.at);
    const atRevision = digestTree(sb.src, ignored);
    assert.notDeepEqual(atRevision, user);
    assert.deepEqual(await restoredDigest(sb, cal.safety, sb.src, "cal"), user, "the safety snapshot holds what the user had");

    let partial = 0;
    for (let k = 0; k < KILLS; k++) {
      resetToUserState();
      const run = await startRollback("v1");
      // Kills aim at the first half of the restore phase measured above. Timing on a shared
      // machine is not exact: a rollback that finished before its kill must simply be right.
      await sleep(Math.round((restoreMs * k) / (KILLS * 2)));
      run.child.child.kill("SIGKILL");
      const killed = await run.child.done;
      if (killed.signal !== "SIGKILL") {
        assert.equal(killed.code, 0, killed.err);
        assert.deepEqual(digestTree(sb.src, ignored), atRevision, `kill ${k} came after the rollback finished: the tree is the revision`);
        t.diagnostic(`kill ${k} came after the rollback finished (${killed.ms} ms)`);
        continue;
      }
      const afterKill = digestTree(sb.src, ignored);
      if (JSON.stringify(afterKill) !== JSON.stringify(atRevision) && JSON.stringify(afterKill) !== JSON.stringify(user)) partial++;

      if (k % 2 === 0) {
        // Repair: the same rollback again.
        const again = await sb.cli(["rollback", "v1"]);
        assert.equal(again.code, 0, again.err);
        assert.deepEqual(digestTree(sb.src, ignored), atRevision, `kill ${k}: the tree is the revision again`);
        t.diagnostic(`kill ${k} after ${killed.ms} ms: ${/did not finish/.test(again.out) ? "the second run named the interrupted one" : "no journal yet"}`);
        if (/did not finish/.test(again.out)) assert.match(again.out, new RegExp(`state from before it is in snapshot ${run.safety.slice(0, 8)}`));
      } else {
        // Or: back to what the user had, through the killed run's safety snapshot.
        const back = await sb.cli(["rollback", run.safety.slice(0, 12)]);
        assert.equal(back.code, 0, back.err);
        assert.deepEqual(digestTree(sb.src, ignored), user, `kill ${k}: the user's files are back`);
      }
      assert.deepEqual(await restoredDigest(sb, run.safety, sb.src, `k${k}`), user, `kill ${k}: its safety snapshot holds the user's files`);
      assert.deepEqual(digestTree(join(sb.src, "node_modules")), digestTree(join(userState, "node_modules")), "ignored files are never touched");
    }
    // How many kills caught the tree half-restored depends on timing, so it is reported, not
    // asserted; every kill above was checked for a repairable tree and a complete safety snapshot.
    t.diagnostic(`restore phase ${restoreMs} ms; ${partial} of ${KILLS} kills left a half-restored tree`);
  });
});
