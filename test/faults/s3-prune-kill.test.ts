import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Gateway, startGateway } from "../helpers/s3-server.js";
import { type HttpRequest, startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { checkRepo, digestTree, makeTree, restoredDigest, type Sandbox, snapshots } from "./fault-helpers.js";
import { expectFailure, expectOk, initRepoAt, listNames, type S3Faults, s3Faults, unreachable, until } from "./s3-fault-helpers.js";

/**
 * `coffer prune` on an S3 repository with the server killed in the middle, three times: once
 * its repacked packs are stored (not their index), once its new index is stored (the old index
 * files still there), and while it deletes packs. Each time: one sentence and exit 1; `check` passes and every
 * remaining snapshot restores exactly (seen through the cluster's main gateway, which stays
 * up). The fourth prune is cut off as well, but the server is back before its retries run out:
 * it completes by itself, and leaves nothing to do.
 *
 * Prune reaches the gateway through a proxy that stops it at a chosen request (before the
 * server sees it), so the kill lands exactly there: the gateway is SIGKILLed while prune's
 * requests are held, then the proxy lets them go on to a dead server.
 */
const PACK = 32 << 10;

let f: S3Faults;
before(async () => (f = await s3Faults("prune-kill")), { timeout: 180_000 });
after(() => f?.cleanup(), { timeout: 180_000 });

describe("coffer prune with the S3 server killed in the middle", { timeout: 600_000 }, () => {
  let gw: Gateway | undefined;
  let proxy: TcpProxy | undefined;
  after(async () => {
    await proxy?.close();
    await gw?.kill();
  });

  it("is tested against a named server", (t) => t.diagnostic(f.server.note));

  it("killed three times, it leaves a repository that checks out and restores; killed and back within the retries, the fourth completes", async (t) => {
    if (!f.server.cephConf) return t.skip(`needs Ceph to kill a gateway (${f.server.note})`);
    gw = await startGateway(f.server);
    proxy = await startTcpProxy(gw.port);
    const bucket = f.bucket("prune-kill");
    const sb = f.sandbox("prune", `s3:${proxy.endpoint}/${bucket}/repo`, { COFFER_BACKEND_RETRIES: "2" });
    const main = f.sandbox("main", `s3:${f.server.endpoint}/${bucket}/repo`);
    await initRepoAt(sb.repo, { packSize: PACK });
    const a = join(sb.src, "a");
    const b = join(sb.src, "b");
    const backup = async (path: string): Promise<string> => {
      const r = await sb.cli(["--json", "backup", path]);
      expectOk(r, `backup of ${path}`);
      return (JSON.parse(r.out) as { snapshot_id: string }).snapshot_id;
    };
    // The first snapshot of a is forgotten: prune deletes the packs only it used, and repacks
    // the packs it shares with the second (--max-unused 0%).
    makeTree(a, { small: 150, big: [], seed: 1 });
    const first = await backup(a);
    for (const d of ["d0", "d1", "d2"]) rmSync(join(a, d), { recursive: true });
    makeTree(join(a, "new"), { small: 50, big: [], seed: 3 });
    await backup(a);
    makeTree(b, { small: 60, big: [], seed: 2 });
    await backup(b);
    expectOk(await sb.cli(["forget", first]), "forget");

    /** Everything the snapshots left hold, as the sources hold it now. */
    const everySnapshotRestores = async (viaMain: boolean, name: string): Promise<void> => {
      const who = viaMain ? main : sb;
      const snaps = await snapshots(who);
      assert.deepEqual(snaps.map((s) => s.paths[0]), [a, b], "the two snapshots left");
      for (const s of snaps) {
        const path = s.paths[0] as string;
        assert.deepEqual(await restoredDigest(who, s.id, path, `${name}-${s.id.slice(0, 8)}`), digestTree(path), `${name}: the snapshot of ${path} restores exactly`);
      }
    };

    /**
     * Starts prune and pauses it at the `nth` request `match` accepts, before the server sees it;
     * kills the gateway, lets prune go on (to fail), checks the repository past the dead gateway,
     * and starts the gateway again.
     */
    const killedPrune = async (what: string, nth: number, match: (r: HttpRequest) => boolean): Promise<void> => {
      if (!gw || !proxy) throw new Error("no gateway");
      let seen = 0;
      const held = proxy.pauseAt((r) => match(r) && ++seen === nth);
      const run = sb.spawn(["--json", "prune", "--max-unused", "0%"]);
      const reached = await Promise.race([held.then(() => true), run.done.then(() => false)]);
      assert.ok(reached, `prune ended before ${what}:\n${run.out()}\n${run.err()}`);
      await gw.kill();
      proxy.resume();
      const line = expectFailure(await run.done, 1, unreachable(proxy.endpoint));
      t.diagnostic(`killed ${what}: ${line}`);

      const c = await checkRepo(main);
      assert.equal(c.code, 0, `check after the kill ${what}:\n${c.text}`);
      await everySnapshotRestores(true, `after-kill-${what.replace(/\W+/g, "-")}`);
      await gw.start();
    };
    const isIndex = (r: HttpRequest): boolean => r.path.includes("/repo/index/");
    const isData = (r: HttpRequest): boolean => r.path.includes("/repo/data/");

    const dataBefore = await listNames(main.repo, "data");
    const indexBefore = await listNames(main.repo, "index");
    // 1: once the repacked packs are stored, before their index is (nothing deleted yet).
    await killedPrune("once its repacked packs are stored", 1, (r) => r.method === "PUT" && isIndex(r));
    const data1 = await listNames(main.repo, "data");
    assert.ok(data1.length > dataBefore.length, "the repacked packs are there");
    assert.deepEqual(await listNames(main.repo, "index"), indexBefore, "no index file was written");
    // 2: the next prune, once its new index is stored, before it deletes any old index file.
    await killedPrune("once the new index is stored", 1, (r) => r.method === "DELETE" && isIndex(r));
    const index2 = await listNames(main.repo, "index");
    assert.ok(index2.length > indexBefore.length && indexBefore.every((i) => index2.includes(i)), "the new index is there beside the old");
    // 3: the next one, in the middle of deleting packs: held at its 8th deletion, which it
    // sends only once a deletion of one of its 5 connections was answered (so one is done).
    const data2 = await listNames(main.repo, "data");
    await killedPrune("while it deletes packs", 8, (r) => r.method === "DELETE" && isData(r));
    const data3 = await listNames(main.repo, "data");
    assert.ok(data3.length < data2.length && data3.length > dataBefore.length / 4, `some packs were deleted (${data2.length} before, ${data3.length} after)`);

    // 4: the next one, with the default retries, is cut off too, but the server is back before
    // its retries run out: it completes by itself (and leaves nothing for a fifth).
    if (!gw) throw new Error("no gateway");
    let deletes = 0;
    const held = proxy.pauseAt((x) => x.method === "DELETE" && isData(x) && ++deletes === 2);
    const { COFFER_BACKEND_RETRIES: _quick, ...defaultRetries } = sb.env;
    const fourth = sb.spawn(["--json", "prune", "--max-unused", "0%"], { env: defaultRetries });
    assert.ok(await Promise.race([held.then(() => true), fourth.done.then(() => false)]), `the fourth prune ended before its second deletion:\n${fourth.err()}`);
    await gw.kill();
    await gw.start();
    proxy.resume();
    const done = await fourth.done;
    expectOk(done, "the fourth prune");
    const r = JSON.parse(done.out) as { removed_packs: string[]; unreferenced_packs: string[] };
    t.diagnostic(`the fourth prune removed ${r.removed_packs.length} packs and ${r.unreferenced_packs.length} unreferenced ones`);
    const full = await checkRepo(sb, { readData: true });
    assert.equal(full.code, 0, full.text);
    await everySnapshotRestores(false, "final");
    const fifth = await sb.cli(["--json", "prune", "--max-unused", "0%"]);
    expectOk(fifth, "a fifth prune");
    assert.equal((JSON.parse(fifth.out) as { nothing_to_do: boolean }).nothing_to_do, true, `nothing is left to do:\n${fifth.out}`);
  });
});
