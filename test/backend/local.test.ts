import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { describe, it } from "node:test";
import { handlePath, isPermanentError, type Handle } from "../../src/backend/backend.js";
import { LocalBackend } from "../../src/backend/local.js";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { CofferError, ioError, isCofferError } from "../../src/core/errors.js";
import { FaultyBackend, systemError } from "../helpers/faulty-backend.js";
import { handle, listAll, rejection, runBackendSuite } from "./suite.js";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "coffer-local-"));
}

/** A LocalBackend on a directory that does not exist yet, and its cleanup. */
async function fresh(): Promise<{ backend: LocalBackend; dir: string; cleanup(): Promise<void> }> {
  const dir = await tempDir();
  return { backend: new LocalBackend(join(dir, "repo")), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file under `dir`, relative. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

const tempFiles = async (dir: string): Promise<string[]> => (await walk(dir)).filter((p) => p.split("/").pop()!.startsWith(".tmp-"));

runBackendSuite("local", fresh);

describe("LocalBackend", () => {
  it("declares its properties and an absolute location", () => {
    const b = new LocalBackend("some/relative/repo");
    assert.ok(isAbsolute(b.location));
    assert.ok(b.location.endsWith("/some/relative/repo"));
    assert.deepEqual(b.properties, { kind: "local", connections: 4, atomicReplace: true, remote: false });
  });

  it("creates the root (0700), every type directory and the 256 data subdirectories", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      assert.equal((await stat(backend.location)).mode & 0o777, 0o700);
      for (const d of ["keys", "data", "index", "snapshots", "locks"]) assert.ok((await stat(join(backend.location, d))).isDirectory(), d);
      const subdirs = await readdir(join(backend.location, "data"));
      assert.equal(subdirs.length, 256);
      assert.ok(subdirs.includes("00") && subdirs.includes("ff") && subdirs.includes("a7"));
    } finally {
      await cleanup();
    }
  });

  it("writes files where handlePath says, with mode 0600, leaving no temp file", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      const hs: Handle[] = [{ type: "config", name: "" }, ...(["key", "data", "index", "snapshot", "lock"] as const).map(handle)];
      await Promise.all(hs.map((h) => backend.save(h, randomBytes(1234))));
      await Promise.all(hs.map((h) => backend.save(h, randomBytes(99)))); // overwrites
      for (const h of hs) {
        const s = await stat(join(backend.location, handlePath(h)));
        assert.equal(s.size, 99, handlePath(h));
        assert.equal(s.mode & 0o777, 0o600, handlePath(h));
      }
      assert.deepEqual(await tempFiles(backend.location), []);
      assert.equal((await walk(backend.location)).length, hs.length);
    } finally {
      await cleanup();
    }
  });

  it("lists no temp files, stray files or directories", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      const h = handle("data");
      await backend.save(h, Buffer.from("pack"));
      const sub = join(backend.location, "data", h.name.slice(0, 2));
      await writeFile(join(sub, ".tmp-0123456789abcdef"), "a crash left this");
      await writeFile(join(sub, "ff" + "0".repeat(62)), "in the wrong subdirectory");
      await writeFile(join(backend.location, "data", "README"), "stray");
      await mkdir(join(backend.location, "data", "zz"));
      await writeFile(join(backend.location, "data", "zz", "zz" + "0".repeat(62)), "stray");
      await writeFile(join(backend.location, "index", ".tmp-1"), "");
      await writeFile(join(backend.location, "index", ".hidden"), "");
      await mkdir(join(backend.location, "index", "a".repeat(64)));
      assert.deepEqual(await listAll(backend, "data"), [{ name: h.name, size: 4 }]);
      assert.deepEqual(await listAll(backend, "index"), []);
    } finally {
      await cleanup();
    }
  });

  it("fails a save into a missing repository with REPO_MISSING, and creates nothing", async () => {
    const { backend, dir, cleanup } = await fresh();
    try {
      const err = await rejection(backend.save(handle("data"), Buffer.from("x")));
      assert.ok(isCofferError(err, "REPO_MISSING"), String(err));
      assert.ok(backend.isPermanent(err));
      assert.deepEqual(await readdir(dir), []);
      assert.deepEqual(await listAll(backend, "data"), []);
      assert.ok(backend.isNotFound(await rejection(backend.load({ type: "config", name: "" }))));
    } finally {
      await cleanup();
    }
  });

  it("recreates a type directory removed by hand", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      await backend.save({ type: "config", name: "" }, Buffer.from("{}"));
      const h = handle("data");
      await rm(join(backend.location, "data", h.name.slice(0, 2)), { recursive: true });
      await rm(join(backend.location, "locks"), { recursive: true });
      await backend.save(h, Buffer.from("pack"));
      const l = handle("lock");
      await backend.save(l, Buffer.from("lock"));
      assert.equal((await backend.load(h)).toString(), "pack");
      assert.equal((await stat(join(backend.location, "locks"))).mode & 0o777, 0o700);
    } finally {
      await cleanup();
    }
  });

  it("reports a missing file as NOT_FOUND with the ENOENT underneath", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      const h = handle("snapshot");
      const err = await rejection(backend.load(h));
      assert.ok(err instanceof CofferError && err.code === "NOT_FOUND");
      assert.equal(err.data["sys"], "ENOENT");
      assert.match(err.message, /snapshots\/[0-9a-f]{64} does not exist in \//);
    } finally {
      await cleanup();
    }
  });

  it("classifies system errors as permanent or transient", () => {
    const b = new LocalBackend("/nonexistent");
    for (const code of ["ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ENOSPC", "EDQUOT", "EROFS"]) {
      assert.ok(b.isPermanent(systemError(code, "x")), `raw ${code}`);
      assert.ok(b.isPermanent(ioError(systemError(code, "x"), "testing")), `wrapped ${code}`);
    }
    for (const code of ["EIO", "EAGAIN", "EBUSY", "EMFILE", "ETIMEDOUT", "ECONNRESET"]) {
      assert.ok(!b.isPermanent(systemError(code, "x")), `raw ${code}`);
      assert.ok(!b.isPermanent(ioError(systemError(code, "x"), "testing")), `wrapped ${code}`);
    }
    assert.ok(!b.isPermanent(new Error("something odd")));
    assert.ok(b.isNotFound(systemError("ENOENT", "x")));
    assert.ok(!b.isNotFound(systemError("EACCES", "x")));
    assert.equal(isPermanentError(new CofferError("NO_SPACE", "full")), true);
  });

  it("surfaces an injected ENOSPC as a permanent NO_SPACE and stores nothing", async () => {
    const { backend, cleanup } = await fresh();
    try {
      await backend.create();
      const faulty = new FaultyBackend(backend, { spaceBytes: 1000 });
      await faulty.save(handle("data"), randomBytes(600));
      const h = handle("data");
      const err = await rejection(faulty.save(h, randomBytes(600)));
      assert.ok(isCofferError(err, "NO_SPACE"), String(err));
      assert.equal(err.data["sys"], "ENOSPC");
      assert.ok(faulty.isPermanent(err));
      assert.ok(faulty.isNotFound(await rejection(faulty.stat(h))));
      await faulty.save(handle("data"), randomBytes(400));
    } finally {
      await cleanup();
    }
  });

  it("fails cleanly with NO_SPACE on a full tmpfs and leaves no partial or temp file", async (t) => {
    const dir = await tempDir();
    try {
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir], { stdio: "pipe" });
      } catch (err) {
        t.skip(`cannot mount a 1 MiB tmpfs here (needs root and mount rights): ${String(err).split("\n")[0]}`);
        return;
      }
      try {
        const backend = new LocalBackend(join(dir, "repo"));
        await backend.create();
        await backend.save({ type: "config", name: "" }, Buffer.from("{}"));
        const h = handle("data");
        const err = await rejection(backend.save(h, randomBytes(2 * 1024 * 1024)));
        assert.ok(isCofferError(err, "NO_SPACE"), String(err));
        assert.ok(backend.isPermanent(err));
        assert.match(err.message, /^No space left while saving data\/[0-9a-f]{2}\/[0-9a-f]{64} in \/.*; free some space/);
        assert.deepEqual(await tempFiles(backend.location), []);
        assert.ok(backend.isNotFound(await rejection(backend.stat(h))));
        assert.deepEqual(await listAll(backend, "data"), []);
        // The temp file's space was given back: a save that fits still works.
        const small = handle("data");
        await backend.save(small, randomBytes(100 * 1024));
        assert.equal((await backend.stat(small)).size, 100 * 1024);
      } finally {
        execFileSync("umount", [dir]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("openBackend", () => {
  it("opens a plain path or local:PATH as a local backend", () => {
    assert.equal(openBackend("/srv/backup").location, "/srv/backup");
    assert.equal(openBackend("local:/srv/backup").location, "/srv/backup");
    assert.equal(openBackend("local:rel/repo").location, join(process.cwd(), "rel/repo"));
    assert.equal(openBackend("~/repo").location, join(homedir(), "repo"));
    assert.equal(openBackend("backup:2024").location, join(process.cwd(), "backup:2024"));
    assert.equal(openBackend("/srv/backup").properties.kind, "local");
  });

  it("opens every remote scheme with its driver, and refuses an empty path with USAGE", () => {
    for (const [url, kind] of [["sftp:user@host:/path", "sftp"], ["s3:http://127.0.0.1:1/b", "s3"], ["rest:http://127.0.0.1:1/", "rest"], ["rclone:remote:path", "rclone"]] as const) {
      assert.equal(openBackend(url).properties.kind, kind, url);
    }
    for (const url of ["", "local:"]) assert.throws(() => openBackend(url), (err: unknown) => isCofferError(err, "USAGE"), url);
  });

  it("wraps a driver so that it still works, with its connections", async () => {
    const { backend, cleanup } = await fresh();
    try {
      const b = wrapBackend(backend, { connections: 2 });
      assert.equal(b.properties.connections, 2);
      assert.equal(b.location, backend.location);
      await b.create();
      const h = handle("index");
      await b.save(h, Buffer.from("x"));
      assert.equal((await b.load(h)).toString(), "x");
    } finally {
      await cleanup();
    }
  });
});
