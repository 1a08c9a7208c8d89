import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import {
  createDefaultPasswordFile,
  defaultPasswordFile,
  defaultRepoLocation,
  resolvePassword,
  type PasswordRequest,
} from "../../src/cli/password.js";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-pw-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function req(over: Partial<PasswordRequest>): PasswordRequest {
  return { flags: {}, env: { HOME: "/nonexistent-home", PATH: process.env.PATH }, defaultRepository: false, ...over };
}

test("default locations follow XDG, with the home fallbacks", () => {
  assert.equal(defaultRepoLocation({ XDG_DATA_HOME: "/d", HOME: "/h" }), "/d/coffer/default");
  assert.equal(defaultRepoLocation({ HOME: "/h" }), "/h/.local/share/coffer/default");
  assert.equal(defaultRepoLocation({ XDG_DATA_HOME: "relative", HOME: "/h" }), "/h/.local/share/coffer/default");
  assert.equal(defaultPasswordFile({ XDG_CONFIG_HOME: "/c", HOME: "/h" }), "/c/coffer/default.password");
  assert.equal(defaultPasswordFile({ HOME: "/h" }), "/h/.config/coffer/default.password");
});

test("resolution order: command, file, env command, env file, COFFER_PASSWORD", async () => {
  await withTmp(async (dir) => {
    const flagFile = join(dir, "flag.pw");
    const envFile = join(dir, "env.pw");
    await writeFile(flagFile, "from-flag-file\n");
    await writeFile(envFile, "from-env-file\r\n");
    const env = { HOME: dir, PATH: process.env.PATH, COFFER_PASSWORD: "from-env", COFFER_PASSWORD_FILE: envFile, COFFER_PASSWORD_COMMAND: "echo from-env-command" };

    let r = await resolvePassword(req({ env, flags: { passwordCommand: "echo secret", passwordFile: flagFile } }));
    assert.deepEqual([r.password, r.source], ["secret", "command"]);
    r = await resolvePassword(req({ env, flags: { passwordFile: flagFile } }));
    assert.deepEqual([r.password, r.source], ["from-flag-file", "file"]);
    r = await resolvePassword(req({ env }));
    assert.deepEqual([r.password, r.source], ["from-env-command", "command"]);
    r = await resolvePassword(req({ env: { ...env, COFFER_PASSWORD_COMMAND: "" } }));
    assert.deepEqual([r.password, r.source], ["from-env-file", "file"]);
    r = await resolvePassword(req({ env: { HOME: dir, COFFER_PASSWORD: "from-env" } }));
    assert.deepEqual([r.password, r.source], ["from-env", "env"]);
  });
});

test("only one trailing newline is removed; spaces are kept", async () => {
  await withTmp(async (dir) => {
    const f = join(dir, "pw");
    await writeFile(f, "\uFEFF pass word \n\n");
    assert.equal((await resolvePassword(req({ flags: { passwordFile: f } }))).password, " pass word \n");
    const r = await resolvePassword(req({ flags: { passwordCommand: "printf 'a b\\n'" } }));
    assert.equal(r.password, "a b");
  });
});

test("a failing password command is a NO_PASSWORD error naming the status", async () => {
  await assert.rejects(resolvePassword(req({ flags: { passwordCommand: "echo oops; exit 3" } })), (e) => {
    assert.ok(isCofferError(e, "NO_PASSWORD"));
    assert.match(e.message, /exit status 3/);
    return true;
  });
  await assert.rejects(resolvePassword(req({ flags: { passwordCommand: "true" } })), (e) => isCofferError(e, "NO_PASSWORD"));
});

test("a missing or empty password file is a NO_PASSWORD error", async () => {
  await withTmp(async (dir) => {
    await assert.rejects(resolvePassword(req({ flags: { passwordFile: join(dir, "nope") } })), /does not exist/);
    await writeFile(join(dir, "empty"), "\n");
    await assert.rejects(resolvePassword(req({ flags: { passwordFile: join(dir, "empty") } })), /is empty/);
  });
});

test("nothing given: prompt on a terminal, else NO_PASSWORD", async () => {
  const asked: string[] = [];
  const r = await resolvePassword(req({ repository: "/r", prompt: async (q) => (asked.push(q), "typed") }));
  assert.deepEqual([r.password, r.source, asked], ["typed", "prompt", ["enter password for repository /r: "]]);
  await assert.rejects(resolvePassword(req({ prompt: async () => "" })), (e) => isCofferError(e, "NO_PASSWORD"));
  await assert.rejects(resolvePassword(req({ repository: "/r" })), (e) => isCofferError(e, "NO_PASSWORD") && /--password-file/.test(e.message));
});

test("the default repository uses its generated password file, created only when asked", async () => {
  await withTmp(async (dir) => {
    const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "cfg") };
    const file = join(dir, "cfg", "coffer", "default.password");
    // Not for a named repository.
    await assert.rejects(resolvePassword(req({ env, defaultRepository: false })), /No password given/);
    // Missing and not asked to create.
    await assert.rejects(resolvePassword(req({ env, defaultRepository: true })), /is missing/);
    const created = await resolvePassword(req({ env, defaultRepository: true, createDefault: true }));
    assert.equal(created.created, true);
    assert.equal(created.file, file);
    const again = await resolvePassword(req({ env, defaultRepository: true, createDefault: true }));
    assert.equal(again.password, created.password);
    assert.equal(again.created, undefined);
    // A password given explicitly still wins over the default file.
    assert.equal((await resolvePassword(req({ env: { ...env, COFFER_PASSWORD: "x" }, defaultRepository: true }))).password, "x");
  });
});

test("createDefaultPasswordFile: 32 random bytes base64url, mode 0600, parent 0700, never overwrites", async () => {
  await withTmp(async (dir) => {
    const file = join(dir, "a", "b", "default.password");
    const pw = await createDefaultPasswordFile(file);
    assert.match(pw, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(pw, "base64url").length, 32);
    assert.equal(await readFile(file, "utf8"), pw + "\n");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "a", "b"))).mode & 0o777, 0o700);
    // A second call (another process racing) returns the existing password.
    assert.equal(await createDefaultPasswordFile(file), pw);
    assert.equal(await readFile(file, "utf8"), pw + "\n");
    // No temporary files left behind.
    const { readdir } = await import("node:fs/promises");
    assert.deepEqual(await readdir(join(dir, "a", "b")), ["default.password"]);
  });
});
