import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/main.js";
import { listCaches } from "../../src/repository/cache-dirs.js";
import { LocalCache } from "../../src/repository/local-cache.js";
import { fakeIO } from "./fake-io.js";

const NOW = new Date("2026-11-20T12:00:00Z");
const DAY = 86_400_000;
const OLD = "a".repeat(64);
const RECENT = "b".repeat(64);
let dir: string;
let root: string;

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIO({ env: { HOME: join(dir, "home"), ...env }, clock: () => NOW });
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "coffer-cache-cmd-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A cache root with an old and a recent repository cache, and things that are not caches. */
async function makeRoot(name: string): Promise<string> {
  const r = join(dir, name);
  for (const [id, age] of [[OLD, 40], [RECENT, 1]] as const) {
    await mkdir(join(r, id, "snapshots"), { recursive: true });
    await writeFile(join(r, id, "snapshots", "c".repeat(64)), Buffer.alloc(1000));
    const t = new Date(NOW.getTime() - age * DAY);
    await utimes(join(r, id), t, t);
  }
  await mkdir(join(r, "not-a-repository-id"));
  await writeFile(join(r, "notes.txt"), "mine\n");
  await writeFile(join(r, "CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55\n");
  return r;
}

describe("coffer cache", () => {
  it("lists the caches, newest use first, and marks the old ones", async () => {
    root = await makeRoot("list");
    const r = await run(["--cache-dir", root, "cache"]);
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split("\n").filter((l) => /^[ab]{8,}/.test(l));
    assert.equal(rows.length, 2, r.out);
    assert.match(rows[0] as string, /^bbbbbbbb.*1000 B\s+1\s+\S+ \S+$/);
    assert.match(rows[1] as string, /^aaaaaaaa.*old$/);
    assert.match(r.out, /2 caches in .*; 1 not used for 30 days: "coffer cache --cleanup" deletes them/);
    const j = await run(["--cache-dir", root, "--json", "cache"]);
    const doc = JSON.parse(j.out) as { caches: { repository: string; old: boolean; bytes: number }[] };
    assert.deepEqual(doc.caches.map((c) => [c.repository, c.old, c.bytes]), [[RECENT, false, 1000], [OLD, true, 1000]]);
  });

  it("--cleanup deletes only caches unused for --max-age days, and nothing else in the root; --dry-run deletes nothing", async () => {
    root = await makeRoot("cleanup");
    const dry = await run(["--cache-dir", root, "cache", "--cleanup", "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would remove the cache of repository aaaaaaaa/);
    assert.ok(existsSync(join(root, OLD)));
    const r = await run(["cache", "--cleanup"], { COFFER_CACHE_DIR: root });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /removed 1 cache, 1000 B/);
    assert.equal(existsSync(join(root, OLD)), false);
    for (const keep of [RECENT, "not-a-repository-id", "notes.txt", "CACHEDIR.TAG"]) assert.ok(existsSync(join(root, keep)), keep);
    const all = await run(["--cache-dir", root, "--json", "cache", "--cleanup", "--max-age", "0"]);
    assert.deepEqual((JSON.parse(all.out) as { removed: { repository: string }[] }).removed.map((c) => c.repository), [RECENT]);
    assert.deepEqual(await listCaches(root), []);
    assert.ok(existsSync(join(root, "notes.txt")));
  });

  it("uses $XDG_CACHE_HOME/coffer by default, and says when there is no cache", async () => {
    const r = await run(["cache"], { XDG_CACHE_HOME: join(dir, "xdg") });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `no caches in ${join(dir, "xdg", "coffer")}\n`);
  });

  it("refuses a --max-age that is not a whole number of days (exit 2)", async () => {
    const r = await run(["cache", "--cleanup", "--max-age", "3w"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /whole number of days/);
  });

  it("counts a repository's cache as used each time it is opened", async () => {
    root = await makeRoot("touch");
    const before = Date.now();
    const c = await LocalCache.open(OLD, { dir: root });
    assert.ok(c);
    const old = (await listCaches(root)).find((x) => x.id === OLD);
    assert.ok(old && old.lastUsed.getTime() >= before - 1000, `last used ${old?.lastUsed.toISOString()}`);
  });
});
