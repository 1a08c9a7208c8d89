import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Gateway, startGateway } from "../helpers/s3-server.js";
import { checkRepo, digestTree, makeTree, PASSWORD, restoredDigest, type Sandbox, snapshots } from "./fault-helpers.js";
import { expectFailure, expectOk, initRepoAt, listNames, openRepo, type S3Faults, s3Faults, unreachable, until } from "./s3-fault-helpers.js";

/**
 * `coffer copy` with the S3 server killed in the middle (its gateway process SIGKILLed once a
 * checkpoint index of the copy has arrived), from a local repository into S3 and from S3 into a
 * local one: one sentence and exit 1; the target checks out and still restores the snapshot it
 * held before; the re-run, once the server is back, sends exactly the blobs the target's index
 * did not hold (fewer than a full copy) and every snapshot restores exactly.
 *
 * Small packs (16 KiB, a few blobs each) so that the copy writes hundreds of packs and a
 * checkpoint index every 32: the kill surely lands in the middle.
 */
const PACK = 16 << 10;

let f: S3Faults;
before(async () => (f = await s3Faults("copy-kill")), { timeout: 180_000 });
after(() => f?.cleanup(), { timeout: 180_000 });

interface CopyJson {
  copied: { from: string; to: string; original: string }[];
  skipped: number;
  blobs_added: number;
  bytes_added: number;
  blobs_present: number;
}

describe("coffer copy with the S3 server killed in the middle", { timeout: 600_000 }, () => {
  let gw: Gateway | undefined;
  /** The local repository first copied into S3, and the S3 repository then copied back. */
  let local: Sandbox;
  let remote: Sandbox;
  let early: string;
  let later: string;
  after(() => gw?.kill());

  const copy = (from: Sandbox, to: Sandbox, ...more: string[]): ReturnType<Sandbox["spawn"]> =>
    to.spawn(["--json", "copy", "--from-repo", from.repo, ...more], { env: { ...to.env, COFFER_FROM_PASSWORD: PASSWORD, COFFER_BACKEND_RETRIES: "2" } });

  /**
   * Copies `from` into `to` (which holds `early` already), killing the gateway once `to` has a
   * new index file; checks what the kill left, then re-runs the copy and checks the result.
   * `watch` lists the target's index files and `seen` is the target past the gateway that dies
   * (through one that stays up, or local).
   */
  async function killedCopy(from: Sandbox, to: Sandbox, watch: () => Promise<string[]>, seen: Sandbox): Promise<{ killedWith: string; full: CopyJson; rerun: CopyJson }> {
    if (!gw) throw new Error("no gateway");
    const dry = await copy(from, to, "--dry-run").done;
    expectOk(dry, "copy --dry-run");
    const full = JSON.parse(dry.out) as CopyJson;
    assert.deepEqual(full.copied.map((c) => c.original), [later], "the later snapshot is to be copied");

    const indexBefore = (await watch()).length;
    const run = copy(from, to);
    const arrived = await until("a checkpoint index of the copy", async () => (await watch()).length > indexBefore, () => run.child.exitCode !== null);
    assert.ok(arrived, `the copy ended before a checkpoint index arrived:\n${run.err()}`);
    await gw.kill();
    const killed = await run.done;
    const line = expectFailure(killed, 1, unreachable(gw.endpoint));

    // The server is back only for the re-run: first the target as the kill left it, seen past
    // the dead gateway (`seen`: the same repository through a gateway that stayed up, or local).
    const c = await checkRepo(seen);
    assert.equal(c.code, 0, `check after the kill:\n${c.text}`);
    assert.deepEqual((await snapshots(seen)).map((s) => s.original ?? s.id), [early], "the interrupted copy saved no snapshot, the earlier one is there");
    const earlySnap = (await snapshots(seen))[0];
    assert.deepEqual(await restoredDigest(seen, earlySnap?.id ?? "", join(local.src, "early"), "early-after-kill"), digestTree(join(local.src, "early")));
    const arrivedRepo = await seen.open();
    await arrivedRepo.loadIndex();
    const indexed = arrivedRepo.index.size;
    await arrivedRepo.close();

    await gw.start();
    const again = await copy(from, to).done;
    expectOk(again, "the copy run again");
    const rerun = JSON.parse(again.out) as CopyJson;
    assert.deepEqual(rerun.copied.map((x) => x.original), [later]);
    const finalRepo = await seen.open();
    await finalRepo.loadIndex();
    assert.equal(rerun.blobs_added, finalRepo.index.size - indexed, "the re-run sent exactly the blobs the target's index lacked");
    await finalRepo.close();
    assert.ok(rerun.blobs_added < full.blobs_added, `the re-run sent ${rerun.blobs_added} blobs, a full copy ${full.blobs_added}`);
    assert.ok(rerun.bytes_added < full.bytes_added, `the re-run sent ${rerun.bytes_added} bytes, a full copy ${full.bytes_added}`);

    const checked = await checkRepo(seen, { readData: true });
    assert.equal(checked.code, 0, checked.text);
    const snaps = await snapshots(seen);
    assert.deepEqual(snaps.map((s) => s.original ?? s.id), [early, later]);
    for (const [i, name] of ["early", "later"].entries()) {
      const path = join(local.src, name);
      assert.deepEqual(await restoredDigest(seen, snaps[i]?.id ?? "", path, `${name}-final`), digestTree(path), `the ${name} snapshot restores exactly`);
    }
    const third = await copy(from, to).done;
    expectOk(third, "a third copy");
    assert.deepEqual(JSON.parse(third.out), { copied: [], skipped: 2, blobs_added: 0, bytes_added: 0, blobs_present: 0, dry_run: false, warnings: [] });
    return { killedWith: line, full, rerun };
  }

  before(async () => {
    if (!f.server.cephConf) return;
    gw = await startGateway(f.server);
    local = f.sandbox("local", join(f.dir, "local-repo"));
    await initRepoAt(local.repo, { packSize: PACK });
    const backup = async (name: string, seed: number, small: number): Promise<string> => {
      makeTree(join(local.src, name), { small, big: [3 << 20], seed });
      const r = await local.cli(["--json", "backup", "--tag", name, join(local.src, name)]);
      expectOk(r, `backup of ${name}`);
      return (JSON.parse(r.out) as { snapshot_id: string }).snapshot_id;
    };
    early = await backup("early", 1, 60);
    later = await backup("later", 2, 300);
  }, { timeout: 180_000 });

  it("is tested against a named server", (t) => t.diagnostic(f.server.note));

  it("from a local repository into S3: exit 1 in one sentence, the target checks out and keeps what it had, the re-run sends only what is missing", async (t) => {
    if (!gw) return t.skip(`needs Ceph to kill a gateway (${f.server.note})`);
    const bucket = f.bucket("copy-to");
    remote = f.sandbox("remote", `s3:${gw.endpoint}/${bucket}/repo`);
    // The same repository through the cluster's main gateway, which stays up.
    const main = f.sandbox("remote-main", `s3:${f.server.endpoint}/${bucket}/repo`);
    const config = await local.open();
    await initRepoAt(remote.repo, { packSize: PACK, paramsFrom: config.config });
    await config.close();
    expectOk(await copy(local, remote, "--tag", "early").done, "copy of the early snapshot");

    const r = await killedCopy(local, remote, () => listNames(main.repo, "index"), main);
    t.diagnostic(`killed with: ${r.killedWith}`);
    t.diagnostic(`a full copy: ${r.full.blobs_added} blobs, ${r.full.bytes_added} bytes; the re-run: ${r.rerun.blobs_added} blobs, ${r.rerun.bytes_added} bytes`);
  });

  it("from S3 into a local repository: the same", async (t) => {
    if (!gw || !remote) return t.skip(`needs Ceph to kill a gateway (${f.server.note})`);
    const target = f.sandbox("back", join(f.dir, "back-repo"));
    const config = await remote.open();
    await initRepoAt(target.repo, { packSize: PACK, paramsFrom: config.config });
    await config.close();
    expectOk(await copy(remote, target, "--tag", "early").done, "copy of the early snapshot");
    const r = await killedCopy(remote, target, () => listNames(target.repo, "index"), target);
    t.diagnostic(`killed with: ${r.killedWith}`);
    t.diagnostic(`a full copy: ${r.full.blobs_added} blobs, ${r.full.bytes_added} bytes; the re-run: ${r.rerun.blobs_added} blobs, ${r.rerun.bytes_added} bytes`);
  });
});
