import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { sha256Hex } from "../../src/repository/file-codec.js";
import { isCacheDirTag } from "../../src/snapshot/filters.js";
import { type CliRun, makeTree } from "../faults/fault-helpers.js";
import { s3Sandbox } from "../helpers/remote-cli.js";
import { bucketName } from "../helpers/s3-server.js";
import { sftpSkip, type SftpServer, startSftpServer } from "../helpers/sftp-server.js";

/**
 * `coffer` with an S3 repository and the local cache, end to end: the cache fills under
 * $XDG_CACHE_HOME/coffer/<repository id>/, later commands read from it (proved by damaging the
 * repository's copy of an index file: commands with the cache do not notice, --no-cache and
 * check do), a damaged cached file is replaced, forgotten snapshots leave it, and --no-cache,
 * --cache-dir and COFFER_CACHE_DIR do what they say.
 */
const sb = s3Sandbox("coffer-cache-cli-");
const { cli } = sb;

const cacheRoot = (): string => join(sb.home, "cache", "coffer");

function expectOk(r: CliRun, what: string): CliRun {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.err}`);
  return r;
}

/** The one repository directory under a cache root. */
function repoCacheDir(root: string): string {
  const ids = readdirSync(root).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.equal(ids.length, 1, `one repository in ${root}: ${ids.join(" ")}`);
  return join(root, ids[0] as string);
}

function namesIn(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? namesIn(join(d, e.name)) : [e.name]))
    .sort();
}

describe("coffer with an S3 repository and the local cache", { timeout: 600_000 }, () => {
  let url: string;
  let src: string;

  it("is tested against a named server", (t) => t.diagnostic(sb.server.note));

  it("fills the cache with index files, snapshots and tree packs, tagged CACHEDIR.TAG", async () => {
    const bucket = bucketName("cache");
    sb.buckets.push(bucket);
    url = `s3:${sb.server.endpoint}/${bucket}/repo`;
    src = join(sb.dir, "src");
    makeTree(src, { small: 30, big: [2 << 20] });
    expectOk(await cli(url, ["init"]), "init");
    expectOk(await cli(url, ["backup", src]), "backup");
    expectOk(await cli(url, ["backup", src]), "backup again");
    assert.ok(isCacheDirTag(readFileSync(join(cacheRoot(), "CACHEDIR.TAG"))));
    const c = repoCacheDir(cacheRoot());
    assert.equal(namesIn(join(c, "snapshots")).length, 2);
    assert.ok(namesIn(join(c, "index")).length >= 1);
    assert.ok(namesIn(join(c, "data")).length >= 1, "tree packs");
    // Data packs are not cached: the 2 MiB file's pack is not there.
    const cachedBytes = namesIn(join(c, "data")).length;
    const b = wrapBackend(openBackend(url));
    let packs = 0;
    for await (const _ of b.list("data")) packs++;
    await b.close();
    assert.ok(cachedBytes < packs, `${cachedBytes} of ${packs} packs cached`);
  });

  it("reads from the cache: a damaged index file in the repository goes unnoticed with it, and is found by --no-cache and check", async () => {
    const c = repoCacheDir(cacheRoot());
    const index = namesIn(join(c, "index"))[0] as string;
    const b = wrapBackend(openBackend(url));
    const good = await b.load({ type: "index", name: index });
    await b.save({ type: "index", name: index }, Buffer.from("damaged in the repository"));
    try {
      const ls = expectOk(await cli(url, ["ls", "latest"]), "ls with the cache");
      assert.match(ls.out, /d0/);
      const plain = await cli(url, ["--no-cache", "ls", "latest"]);
      assert.equal(plain.code, 1, plain.err);
      assert.match(plain.err, /does not match its name/);
      const check = await cli(url, ["check"]);
      assert.equal(check.code, 1, `check reads the repository, not the cache:\n${check.out}${check.err}`);
    } finally {
      await b.save({ type: "index", name: index }, good);
      await b.close();
    }
    expectOk(await cli(url, ["check"]), "check after the repair");
  });

  it("replaces a damaged cached snapshot with the repository's copy, saying so with -v", async () => {
    const c = repoCacheDir(cacheRoot());
    const name = namesIn(join(c, "snapshots"))[0] as string;
    const path = join(c, "snapshots", name);
    const bytes = readFileSync(path);
    bytes[0] = (bytes[0] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const r = expectOk(await cli(url, ["-v", "snapshots"]), "snapshots");
    assert.equal(r.out.trim().split("\n").filter((l) => /^[0-9a-f]{8} /.test(l)).length, 2, r.out);
    assert.match(r.err, /cache: the cached .* does not match its name/);
    assert.equal(sha256Hex(readFileSync(path)), name, "cached again, sound");
  });

  it("forgets what forget removed from the repository", async () => {
    const c = repoCacheDir(cacheRoot());
    const before = namesIn(join(c, "snapshots"));
    expectOk(await cli(url, ["forget", "--keep-last", "1"]), "forget");
    expectOk(await cli(url, ["snapshots"]), "snapshots");
    const now = namesIn(join(c, "snapshots"));
    assert.equal(now.length, 1);
    assert.ok(before.includes(now[0] as string));
  });

  it("--no-cache leaves no cache; --cache-dir and COFFER_CACHE_DIR move it", async () => {
    const none = join(sb.dir, "cache-none");
    expectOk(await cli(url, ["--no-cache", "snapshots"], { XDG_CACHE_HOME: none }), "snapshots --no-cache");
    assert.equal(existsSync(none), false);
    const flag = join(sb.dir, "cache-flag");
    expectOk(await cli(url, ["--cache-dir", flag, "snapshots"]), "snapshots --cache-dir");
    assert.equal(namesIn(join(repoCacheDir(flag), "snapshots")).length, 1);
    const env = join(sb.dir, "cache-env");
    expectOk(await cli(url, ["snapshots"], { COFFER_CACHE_DIR: env }), "snapshots with COFFER_CACHE_DIR");
    assert.equal(namesIn(join(repoCacheDir(env), "snapshots")).length, 1);
  });

  it("never fails a command over an unusable cache", async () => {
    const blocked = join(sb.dir, "cache-blocked");
    writeFileSync(blocked, "a file, not a directory\n");
    const r = expectOk(await cli(url, ["-v", "snapshots"], { COFFER_CACHE_DIR: blocked }), "snapshots");
    assert.match(r.err, /cache: the local cache .* cannot be used/);
  });
});

describe("coffer with an SFTP repository and the local cache", { skip: sftpSkip(), timeout: 120_000 }, () => {
  let sftp: SftpServer;
  before(async () => {
    sftp = await startSftpServer();
  });
  after(async () => {
    await sftp?.stop();
  });

  it("caches an sftp: repository too, and reads from the cache", async () => {
    const url = sftp.url("cached");
    const root = join(sb.dir, "cache-sftp");
    const run = (argv: string[]): Promise<CliRun> => cli(url, argv, { ...sftp.env, COFFER_CACHE_DIR: root });
    const src = join(sb.dir, "src-sftp");
    makeTree(src, { small: 10, big: [] });
    expectOk(await run(["init"]), "init");
    expectOk(await run(["backup", src]), "backup");
    const c = repoCacheDir(root);
    assert.equal(namesIn(join(c, "snapshots")).length, 1);
    assert.ok(namesIn(join(c, "data")).length >= 1, "tree packs");
    // The repository is a directory on this machine: damage its index file there.
    const index = namesIn(join(c, "index"))[0] as string;
    writeFileSync(join(sftp.root, "cached", "index", index), "damaged in the repository");
    expectOk(await run(["ls", "latest"]), "ls with the cache");
    const plain = await run(["--no-cache", "ls", "latest"]);
    assert.equal(plain.code, 1, plain.err);
    assert.match(plain.err, /does not match its name/);
  });
});
