import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { handlePath, type Handle } from "../../src/backend/backend.js";
import { decodeTree } from "../../src/snapshot/tree.js";
import { checkRepo, type CheckRun, makeTree, repoNames, type Sandbox, sandbox, snapshots, writeFile } from "./fault-helpers.js";

/**
 * One flipped byte anywhere in a repository is found by `coffer check` (pack data needs
 * `--read-data`), which exits 1 and names the damaged object and the snapshots it affects.
 * The repository has two snapshots; the damage is in objects only the second one reaches
 * (the pack holding `extra.bin`, the index file of the second backup, the second snapshot
 * file). Each case undoes its damage, and the repository passes again at the end.
 *
 * End to end through the CLI when this build has `check`, else through the library's
 * `check()` (the function the command calls); see fault-helpers.ts.
 */
describe("corruption is found and traced to its snapshots", { timeout: 180_000 }, () => {
  let sb: Sandbox;
  let s1: string;
  let s2: string;
  /** The pack holding extra.bin's one blob, and where the blob lies in it. */
  let pack: { id: string; offset: number; length: number };
  /** The index file the second backup wrote. */
  let index2: string;

  before(async () => {
    sb = await sandbox("corruption", { packSize: 256 * 1024 });
    makeTree(sb.src, { small: 60, big: [700_000, 900_000], seed: 1 });
    const r1 = await sb.cli(["backup", sb.src]);
    assert.equal(r1.code, 0, r1.err);
    const indexBefore = new Set(repoNames(sb.repo, "index"));
    writeFile(join(sb.src, "extra.bin"), randomBytes(300_000));
    const r2 = await sb.cli(["backup", sb.src]);
    assert.equal(r2.code, 0, r2.err);
    const snaps = await snapshots(sb);
    assert.equal(snaps.length, 2);
    [s1, s2] = snaps.map((s) => s.id) as [string, string];
    const newIndex = repoNames(sb.repo, "index").filter((i) => !indexBefore.has(i));
    assert.equal(newIndex.length, 1, "the second backup wrote one index file");
    index2 = newIndex[0] as string;

    const repo = await sb.open();
    try {
      await repo.loadIndex();
      let tree = snaps[1]!.tree;
      for (const name of [...sb.src.split("/").filter(Boolean), "extra.bin"]) {
        const node = decodeTree(await repo.loadBlob("tree", Buffer.from(tree, "hex"))).nodes.find((n) => n.name === name);
        assert.ok(node, name);
        if (name === "extra.bin") {
          assert.equal(node.content?.length, 1, "extra.bin is one blob");
          const e = repo.index.entriesOf(Buffer.from(node.content![0]!, "hex"));
          assert.equal(e.length, 1);
          pack = { id: e[0]!.pack, offset: e[0]!.offset, length: e[0]!.length };
        } else tree = node.subtree!;
      }
    } finally {
      await repo.close();
    }
  });
  after(() => sb.cleanup());

  /** Inverts one byte of a repository file for the duration of `fn`. */
  async function damaged(h: Handle, at: number, fn: () => Promise<void>): Promise<void> {
    const path = join(sb.repo, handlePath(h));
    const original = readFileSync(path);
    const bad = Buffer.from(original);
    const i = at < 0 ? bad.length + at : at;
    bad[i] = (bad[i] ?? 0) ^ 0xff;
    writeFileSync(path, bad);
    try {
      await fn();
    } finally {
      writeFileSync(path, original);
    }
  }

  function assertNames(r: CheckRun, objectId: string, what: string): void {
    assert.equal(r.code, 1, `check exits 1 for ${what}:\n${r.text}`);
    assert.ok(r.text.includes(objectId.slice(0, 8)), `the output names the damaged ${what} ${objectId.slice(0, 8)}:\n${r.text}`);
    assert.ok(r.text.includes(s2.slice(0, 8)), `the output names the affected snapshot ${s2.slice(0, 8)}:\n${r.text}`);
    if (r.result) assert.deepEqual(r.result.damagedSnapshots, [s2], `only the second snapshot is affected, not ${s1.slice(0, 8)}`);
  }

  it("the undamaged repository passes", async () => {
    const r = await checkRepo(sb);
    assert.equal(r.code, 0, r.text);
  });

  it("a byte in a pack's data area: check passes (structure), check --read-data exits 1 naming the pack and the snapshot", async () => {
    await damaged({ type: "data", name: pack.id }, pack.offset + (pack.length >> 1), async () => {
      const structure = await checkRepo(sb);
      assert.equal(structure.code, 0, `the structure is intact:\n${structure.text}`);
      assertNames(await checkRepo(sb, { readData: true }), pack.id, "pack");
    });
  });

  it("a byte in a pack's header: check exits 1 naming the pack and the snapshot", async () => {
    await damaged({ type: "data", name: pack.id }, -10, async () => {
      assertNames(await checkRepo(sb), pack.id, "pack");
    });
  });

  it("a byte in an index file: check exits 1 naming the index file and the snapshot", async () => {
    await damaged({ type: "index", name: index2 }, 40, async () => {
      const r = await checkRepo(sb);
      assertNames(r, index2, "index file");
    });
  });

  it("a byte in a snapshot file: check exits 1 naming the snapshot", async () => {
    await damaged({ type: "snapshot", name: s2 }, 30, async () => {
      assertNames(await checkRepo(sb), s2, "snapshot");
    });
  });

  it("with the damage undone, check --read-data passes", async () => {
    const r = await checkRepo(sb, { readData: true });
    assert.equal(r.code, 0, r.text);
  });
});
