import assert from "node:assert/strict";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { type HttpRequest, startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { checkRepo, digestTree, makeTree, restoredDigest, type Sandbox, snapshots, writeFile } from "./fault-helpers.js";
import { expectFailure, expectOk, initRepoAt, listNames, type S3Faults, s3Faults } from "./s3-fault-helpers.js";

/**
 * Processes that share one S3 repository at the same time: two hosts backing up at once, and
 * prune beside a backup. Each process reaches the server through a proxy of its own that
 * stops it at a chosen request (before the server sees it), so the overlap is certain: a
 * backup held at its first pack upload holds its lock and has read the index, a prune held at
 * its first deletion holds its exclusive lock and has stored its new index.
 */
const PACK = 64 << 10;

let f: S3Faults;
/** Proxies to the server of the run; closed at the end. */
const proxies: TcpProxy[] = [];
before(async () => (f = await s3Faults("concurrent")), { timeout: 180_000 });
after(async () => {
  for (const p of proxies) await p.close();
  await f?.cleanup();
}, { timeout: 180_000 });

async function proxy(): Promise<TcpProxy> {
  const p = await startTcpProxy(Number(new URL(f.server.endpoint).port));
  proxies.push(p);
  return p;
}

const isData = (r: HttpRequest): boolean => r.method === "PUT" && r.path.includes("/repo/data/");
const isSnapshot = (r: HttpRequest): boolean => r.method === "PUT" && r.path.includes("/repo/snapshots/");

/** Runs `argv` in `sb`, holding it at the first request `at` accepts; resolves when it is held. */
function heldAt(sb: Sandbox, p: TcpProxy, argv: string[], at: (r: HttpRequest) => boolean): { run: ReturnType<Sandbox["spawn"]>; held: Promise<void> } {
  const held = p.pauseAt(at);
  const run = sb.spawn(argv);
  return {
    run,
    held: Promise.race([
      held.then(() => undefined),
      run.done.then((r) => {
        throw new Error(`coffer ${argv.join(" ")} ended (exit ${r.code}) before the request it was to be held at:\n${r.err}`);
      }),
    ]),
  };
}

/** Each snapshot restores what `want` says its path held when it was taken. */
async function restoresExactly(sb: Sandbox, snaps: SnapshotWithId[], want: (s: SnapshotWithId) => Record<string, string>): Promise<void> {
  for (const s of snaps) {
    const path = s.paths[0] as string;
    assert.deepEqual(await restoredDigest(sb, s.id, path, s.id.slice(0, 8)), want(s), `snapshot ${s.id.slice(0, 8)} (${s.hostname}) of ${path} restores exactly`);
  }
}

describe("two hosts backing up into one S3 repository at the same time", { timeout: 600_000 }, () => {
  it("is tested against a named server", (t) => t.diagnostic(f.server.note));

  it("both succeed, twice (with shared data, then each from its parent); every snapshot restores exactly; check --read-data passes", async () => {
    const bucket = f.bucket("two-hosts");
    const [pa, pb] = [await proxy(), await proxy()];
    const alpha = f.sandbox("alpha", `s3:${pa.endpoint}/${bucket}/repo`);
    const beta = f.sandbox("beta", `s3:${pb.endpoint}/${bucket}/repo`);
    await initRepoAt(alpha.repo, { packSize: PACK });
    const a = join(alpha.src, "data");
    const b = join(beta.src, "data");
    makeTree(a, { small: 120, big: [3 << 20], seed: 1 });
    makeTree(b, { small: 120, big: [2 << 20], seed: 2 });
    // Content both hold, which both pack at once (a duplicate is harmless, a blob left out is not).
    copyFileSync(join(a, "big-1-0.bin"), join(b, "shared-big.bin"));
    for (let i = 0; i < 20; i++) {
      writeFile(join(a, "same", `x${i}.txt`), `the same small file ${i}\n`.repeat(300));
      writeFile(join(b, "same", `y${i}.txt`), `the same small file ${i}\n`.repeat(300));
    }
    const digests = new Map<string, Record<string, string>>();

    /** Both hosts back up at once, each held at `at` until both are; returns their snapshots. */
    const both = async (at: (r: HttpRequest) => boolean): Promise<SnapshotWithId[]> => {
      const known = new Set((await snapshots(alpha)).map((s) => s.id));
      const want = { alpha: digestTree(a), beta: digestTree(b) };
      const x = heldAt(alpha, pa, ["--json", "backup", "--host", "alpha", a], at);
      const y = heldAt(beta, pb, ["--json", "backup", "--host", "beta", b], at);
      try {
        await Promise.all([x.held, y.held]);
      } finally {
        pa.resume();
        pb.resume();
      }
      const [r, s] = await Promise.all([x.run.done, y.run.done]);
      expectOk(r, "alpha's backup");
      expectOk(s, "beta's backup");
      const fresh = (await snapshots(alpha)).filter((snap) => !known.has(snap.id));
      assert.deepEqual(fresh.map((snap) => snap.hostname).sort(), ["alpha", "beta"], "each host saved its snapshot");
      for (const snap of fresh) digests.set(snap.id, snap.hostname === "alpha" ? want.alpha : want.beta);
      return fresh;
    };

    // 1: both held at their first pack upload: each read the index before the other wrote anything.
    const first = await both(isData);
    // 2: each changes a little and backs up again from its own parent; both held before saving their snapshot.
    writeFile(join(a, "new-in-round-2.txt"), "added before the second round\n");
    rmSync(join(b, "d3"), { recursive: true });
    writeFile(join(b, "same", "x0.txt"), "changed in round 2\n");
    const second = await both(isSnapshot);
    for (const s of second) {
      const parent = first.find((p) => p.hostname === s.hostname);
      assert.equal(s.parent, parent?.id, `${s.hostname}'s second snapshot has its first as parent`);
    }

    const all = await snapshots(alpha);
    assert.equal(all.length, 4);
    await restoresExactly(alpha, all, (s) => digests.get(s.original ?? s.id) ?? {});
    const c = await checkRepo(alpha, { readData: true });
    assert.equal(c.code, 0, c.text);
  });
});

describe("prune beside a backup on an S3 repository", { timeout: 600_000 }, () => {
  /** The repository through a proxy (the process the test holds), and straight to the server. */
  let sb: Sandbox;
  let direct: Sandbox;
  let p: TcpProxy;
  /** What each snapshot's path held when it was taken, by original id. */
  const digests = new Map<string, Record<string, string>>();
  /** Data and index files. */
  const stored = async (): Promise<string[]> => [...(await listNames(direct.repo, "data")), ...(await listNames(direct.repo, "index"))];

  before(async () => {
    p = await proxy();
    const bucket = f.bucket("prune-beside");
    sb = f.sandbox("prune-beside", `s3:${p.endpoint}/${bucket}/repo`);
    direct = f.sandbox("prune-beside-direct", `s3:${f.server.endpoint}/${bucket}/repo`);
    await initRepoAt(sb.repo, { packSize: PACK });
  });

  /** A tree at `name` and its snapshot; returns the snapshot id. */
  const backup = async (name: string, seed: number): Promise<string> => {
    const path = join(sb.src, name);
    makeTree(path, { small: 60, big: [1 << 20], seed });
    const r = await sb.cli(["--json", "backup", path]);
    expectOk(r, `backup of ${name}`);
    const id = (JSON.parse(r.out) as { snapshot_id: string }).snapshot_id;
    digests.set(id, digestTree(path));
    return id;
  };

  const everySnapshotRestores = async (): Promise<void> => {
    const snaps = await snapshots(sb);
    assert.ok(snaps.length > 0);
    await restoresExactly(sb, snaps, (s) => digests.get(s.original ?? s.id) ?? {});
  };

  it("prune exits 11 while a backup runs, deleting nothing; the backup completes; then prune completes", async () => {
    const old = await backup("old", 1);
    expectOk(await sb.cli(["forget", old]), "forget");
    const path = join(sb.src, "running");
    makeTree(path, { small: 60, big: [1 << 20], seed: 2 });
    const before = await stored();
    const running = heldAt(sb, p, ["--json", "backup", path], isData);
    await running.held;
    // The backup holds its lock, in the middle of its first pack upload.
    const prune = await direct.cli(["prune"]);
    expectFailure(prune, 11, /^coffer: The repository is locked by a lock of pid \d+ on /);
    assert.deepEqual(await stored(), before, "prune deleted nothing and wrote nothing");
    p.resume();
    const b = await running.run.done;
    expectOk(b, "the backup");
    digests.set((JSON.parse(b.out) as { snapshot_id: string }).snapshot_id, digestTree(path));

    const c = await checkRepo(sb);
    assert.equal(c.code, 0, c.text);
    await everySnapshotRestores();
    const later = await sb.cli(["--json", "prune"]);
    expectOk(later, "prune after the backup");
    assert.ok((JSON.parse(later.out) as { removed_packs: string[] }).removed_packs.length > 0, "then prune deletes the forgotten snapshot's data");
    await everySnapshotRestores();
  });

  it("a backup exits 11 while prune runs, writing nothing; prune completes; the backup then succeeds; check --read-data passes", async () => {
    const gone = await backup("gone", 3);
    expectOk(await sb.cli(["forget", gone]), "forget");
    const path = join(sb.src, "refused");
    makeTree(path, { small: 40, big: [], seed: 4 });
    const snapsBefore = await listNames(direct.repo, "snapshot");
    // Prune held at its first deletion: it holds its exclusive lock and has stored its new index.
    const running = heldAt(sb, p, ["--json", "prune"], (r) => r.method === "DELETE" && /\/repo\/(index|data)\//.test(r.path));
    await running.held;
    const during = await stored();
    const b = await direct.cli(["backup", path]);
    p.resume();
    expectFailure(b, 11, /^coffer: The repository is locked by an exclusive lock of pid \d+ on .*; wait for it to finish, or run "coffer unlock"/);
    assert.deepEqual(await listNames(direct.repo, "snapshot"), snapsBefore, "the refused backup saved no snapshot");
    const r = await running.run.done;
    expectOk(r, "prune");
    const pruned = JSON.parse(r.out) as { removed_packs: string[]; newer_unreferenced_packs: number };
    assert.ok(pruned.removed_packs.length > 0, "prune deleted the forgotten snapshot's packs");
    assert.equal(pruned.newer_unreferenced_packs, 0, "the refused backup stored no pack");
    const after = await stored();
    assert.ok(after.every((x) => during.includes(x)), "nothing appeared beside prune's own files");

    const again = await sb.cli(["--json", "backup", path]);
    expectOk(again, "the backup run again");
    digests.set((JSON.parse(again.out) as { snapshot_id: string }).snapshot_id, digestTree(path));
    const c = await checkRepo(sb, { readData: true });
    assert.equal(c.code, 0, c.text);
    await everySnapshotRestores();
  });
});
