import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SnapshotWithId } from "../../src/snapshot/snapshot.js";
import { checkRepo, digestTree, makeTree, restoredDigest, type Sandbox, sandbox, snapshots, writeFile } from "./fault-helpers.js";

/**
 * Two `coffer backup` processes into one repository at the same time (backups take shared
 * locks): both succeed, each snapshot restores exactly what its process read, and the
 * repository passes `check` — with different data, with data the two share (both may pack
 * the same blob: a duplicate is harmless, a blob left out is not), and with the same paths.
 */
describe("concurrent backups into one repository", { timeout: 600_000 }, () => {
  let sb: Sandbox;
  let a: string;
  let b: string;
  before(async () => {
    sb = await sandbox("concurrent");
    a = join(sb.src, "a");
    b = join(sb.src, "b");
    makeTree(a, { small: 300, big: [5 << 20, 3 << 20], seed: 1 });
    makeTree(b, { small: 300, big: [4 << 20], seed: 2 });
    // Content the two share: the same big files and small files under other names.
    copyFileSync(join(a, "big-1-0.bin"), join(b, "shared-copy-0.bin"));
    copyFileSync(join(a, "big-1-1.bin"), join(b, "shared-copy-1.bin"));
    for (let i = 0; i < 20; i++) writeFile(join(b, "same", `x${i}.txt`), `the same small file ${i}\n`.repeat(200));
    for (let i = 0; i < 20; i++) writeFile(join(a, "same", `y${i}.txt`), `the same small file ${i}\n`.repeat(200));
  });
  after(() => sb.cleanup());

  const known = new Set<string>();

  /** Runs two backups at once; returns the new snapshots. */
  async function both(x: string[], y: string[]): Promise<SnapshotWithId[]> {
    const p = sb.spawn(["--json", "backup", ...x]);
    const q = sb.spawn(["--json", "backup", ...y]);
    const [r, s] = await Promise.all([p.done, q.done]);
    assert.equal(r.code, 0, `first: ${r.err}`);
    assert.equal(s.code, 0, `second: ${s.err}`);
    const fresh = (await snapshots(sb)).filter((snap) => !known.has(snap.id));
    for (const snap of fresh) known.add(snap.id);
    assert.equal(fresh.length, 2, "each process saved its snapshot");
    return fresh;
  }

  /** Each snapshot restores what its paths hold now (nothing changes during a round). */
  async function verify(fresh: SnapshotWithId[]): Promise<void> {
    for (const snap of fresh) {
      for (const path of snap.paths) {
        assert.deepEqual(await restoredDigest(sb, snap.id, path, snap.id.slice(0, 8)), digestTree(path), `snapshot ${snap.id.slice(0, 8)}: ${path}`);
      }
    }
  }

  it("different paths with shared content: both succeed, both restore, check passes", async () => {
    const fresh = await both([a], [b]);
    assert.deepEqual(fresh.map((s) => s.paths[0]).sort(), [a, b].sort());
    await verify(fresh);
    const c = await checkRepo(sb);
    assert.equal(c.code, 0, c.text);
  });

  it("the same path at once (parent found by both, most data already stored): both succeed", async () => {
    writeFile(join(a, "new-in-round-2.txt"), "added before the second round\n");
    await verify(await both([a], [a]));
    const c = await checkRepo(sb);
    assert.equal(c.code, 0, c.text);
  });

  it("new data both write at once: both succeed and restore, check --read-data passes", async () => {
    const c = join(sb.src, "c");
    makeTree(c, { small: 100, big: [6 << 20], seed: 3 });
    await verify(await both([c], [c, a]));
    const r = await checkRepo(sb, { readData: true });
    assert.equal(r.code, 0, r.text);
  });
});
