import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { parseSftpUrl, formatSftpLocation, sftpOptionsFromEnv } from "../../src/backend/sftp-url.js";
import { type CofferError, isCofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { freePort } from "../helpers/s3-server.js";
import { sftpSkip, type SftpServer, startSftpServer } from "../helpers/sftp-server.js";
import { handle, listAll, rejection, runBackendSuite } from "./suite.js";

/**
 * The SFTP driver against a real OpenSSH server (test/helpers/sftp-server.ts): the conformance
 * suite, then what a user gets wrong: unknown and changed host keys, a key the server does not
 * accept, a closed port, a missing repository, a read-only server; and a server killed and
 * started again under a backend in use.
 */
const fastRetry = { attempts: 3, initialDelayMs: 20, maxDelayMs: 50 };

async function expectError(p: Promise<unknown>): Promise<CofferError> {
  const err = await rejection(p);
  assert.ok(isCofferError(err), `a CofferError, not ${String(err)}`);
  return err;
}

describe("SFTP repository URLs", () => {
  it("parses the scp-like and the URL forms", () => {
    assert.deepEqual(parseSftpUrl("sftp:me@host.lan:/srv/repo/"), { user: "me", host: "host.lan", path: "/srv/repo" });
    assert.deepEqual(parseSftpUrl("sftp:host.lan:backups/repo"), { host: "host.lan", path: "backups/repo" });
    assert.deepEqual(parseSftpUrl("sftp:host:~/repo"), { host: "host", path: "repo" });
    assert.deepEqual(parseSftpUrl("sftp:me@[::1]:/srv/repo"), { user: "me", host: "::1", path: "/srv/repo" });
    assert.deepEqual(parseSftpUrl("sftp://me@host:2222//srv/repo"), { user: "me", host: "host", port: 2222, path: "/srv/repo" });
    assert.deepEqual(parseSftpUrl("sftp://host/repo"), { host: "host", path: "repo" });
    assert.deepEqual(parseSftpUrl("sftp://me%40corp@[::1]:22//a//b/"), { user: "me@corp", host: "::1", port: 22, path: "/a/b" });
  });

  it("prints locations that parse back to the same place", () => {
    for (const url of ["sftp:me@host:/srv/repo", "sftp:host:repo", "sftp://me@host:2222//srv/repo", "sftp://host:2222/repo", "sftp:me@[::1]:/r"]) {
      assert.equal(formatSftpLocation(parseSftpUrl(url)), url);
    }
    assert.equal(formatSftpLocation(parseSftpUrl("sftp://me@host:22//srv")), "sftp:me@host:/srv");
    assert.equal(openBackend("sftp:me@host:/srv/repo", { env: {} }).location, "sftp:me@host:/srv/repo");
  });

  it("refuses what is not an SFTP location with USAGE, never repeating a password", () => {
    for (const url of ["sftp:", "sftp:host", "sftp:host:", "sftp:/srv/repo", "sftp:host:/a/../b", "sftp://host", "sftp://host/", "sftp://host:0//x", "sftp://host:99999//x", "sftp://host//x?y=1"]) {
      assert.throws(() => openBackend(url, { env: {} }), (err: unknown) => isCofferError(err, "USAGE") && /sftp:\[USER@\]HOST:\/PATH/.test(err.message), url);
    }
    assert.throws(
      () => openBackend("sftp://me:secret123@host//srv", { env: {} }),
      (err: unknown) => isCofferError(err, "USAGE") && /SSH keys/.test(err.message) && !err.message.includes("secret123"),
    );
  });

  it("declares the properties of a remote store, and reads its settings from the environment", () => {
    assert.deepEqual(openBackend("sftp:host:/r", { env: {} }).properties, { kind: "sftp", connections: 5, atomicReplace: true, remote: true });
    assert.equal(openBackend("sftp:host:/r", { env: { COFFER_SFTP_CONNECTIONS: "2" } }).properties.connections, 2);
    const o = sftpOptionsFromEnv({ HOME: "/home/u", SSH_AUTH_SOCK: "/run/agent", COFFER_SFTP_PORT: "2222", COFFER_SFTP_TIMEOUT: "1.5", COFFER_SFTP_USER: "backup" });
    assert.deepEqual(o, {
      defaultUser: "backup",
      defaultPort: 2222,
      identityFiles: ["/home/u/.ssh/id_ed25519", "/home/u/.ssh/id_ecdsa", "/home/u/.ssh/id_rsa"],
      explicitKey: false,
      agent: "/run/agent",
      knownHostsFiles: ["/home/u/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"],
      timeoutMs: 1500,
    });
    const k = sftpOptionsFromEnv({ HOME: "/home/u", SSH_AUTH_SOCK: "/run/agent", COFFER_SFTP_KEY: "~/keys/backup", COFFER_SFTP_KNOWN_HOSTS: "/etc/coffer/known_hosts" });
    assert.deepEqual([k.identityFiles, k.explicitKey, k.agent, k.knownHostsFiles], [["/home/u/keys/backup"], true, undefined, ["/etc/coffer/known_hosts"]]);
    for (const env of [{ COFFER_SFTP_PORT: "0" }, { COFFER_SFTP_CONNECTIONS: "x" }, { COFFER_SFTP_TIMEOUT: "-1" }]) {
      assert.throws(() => sftpOptionsFromEnv(env), (err: unknown) => isCofferError(err, "USAGE") && err.message.includes(Object.keys(env)[0] as string), JSON.stringify(env));
    }
  });
});

describe("SFTP backend against OpenSSH", { timeout: 300_000, skip: sftpSkip() }, () => {
  let server: SftpServer;
  let home: string;
  let n = 0;
  before(async () => {
    server = await startSftpServer();
    home = await mkdtemp(join(tmpdir(), "coffer-sftp-home-"));
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** A driver for a fresh repository path, opened as the CLI opens it. */
  const open = (name: string, env: Record<string, string> = server.env, retry = fastRetry) => wrapBackend(openBackend(server.url(name), { env: { HOME: home, ...env } }), { retry, env: {} });

  runBackendSuite("sftp (OpenSSH internal-sftp, wrapped as openBackend + wrapBackend)", async () => ({ backend: open(`suite${++n}`), cleanup: async () => {} }));

  it("stores files where a local repository has them, mode 0600, with no temp files left", async () => {
    const b = open("layout");
    await b.create();
    const h = handle("data");
    await b.save(h, Buffer.from("packed"));
    await b.save({ type: "config", name: "" }, Buffer.from("{}"));
    const dir = join(server.root, "layout");
    assert.equal(readFileSync(join(dir, "data", h.name.slice(0, 2), h.name), "utf8"), "packed");
    assert.equal(statSync(join(dir, "data", h.name.slice(0, 2), h.name)).mode & 0o777, 0o600);
    assert.equal(readdirSync(join(dir, "data")).length, 256);
    assert.deepEqual(readdirSync(dir).sort(), ["config", "data", "index", "keys", "locks", "snapshots"]);
    assert.deepEqual(readdirSync(join(dir, "data", h.name.slice(0, 2))), [h.name]);
    // A type directory removed by hand is made again; temp files a crash left are not listed.
    await rm(join(dir, "index"), { recursive: true });
    writeFileSync(join(dir, "data", "ab", ".tmp-0123"), "partial");
    const i = handle("index");
    await b.save(i, Buffer.from("index"));
    assert.deepEqual(await listAll(b, "index"), [{ name: i.name, size: 5 }]);
    assert.deepEqual(await listAll(b, "data"), [{ name: h.name, size: 6 }]);
    await b.close();
  });

  it("logs in with the keys and known_hosts in ~/.ssh, as ssh does", async () => {
    const user = await mkdtemp(join(tmpdir(), "coffer-sftp-user-"));
    try {
      mkdirSync(join(user, ".ssh"), { mode: 0o700 });
      writeFileSync(join(user, ".ssh", "id_ed25519"), readFileSync(server.userKey), { mode: 0o600 });
      writeFileSync(join(user, ".ssh", "known_hosts"), `${server.hostKeyLine}\n`);
      // An agent that is gone (a stale SSH_AUTH_SOCK) does not keep the key files from being tried.
      const b = wrapBackend(openBackend(server.url("home-keys"), { env: { HOME: user, SSH_AUTH_SOCK: join(user, "no-agent.sock") } }), { retry: fastRetry, env: {} });
      await b.create();
      assert.deepEqual(await listAll(b, "snapshot"), []);
      await b.close();
      // Hashed known_hosts (HashKnownHosts yes) work the same.
      execFileSync("ssh-keygen", ["-q", "-H", "-f", join(user, ".ssh", "known_hosts")], { stdio: "ignore" });
      assert.match(readFileSync(join(user, ".ssh", "known_hosts"), "utf8"), /^\|1\|/);
      const hashed = wrapBackend(openBackend(server.url("home-keys"), { env: { HOME: user } }), { retry: fastRetry, env: {} });
      assert.deepEqual(await listAll(hashed, "snapshot"), []);
      await hashed.close();
    } finally {
      await rm(user, { recursive: true, force: true });
    }
  });

  it("connects through a Host alias of an SSH config (COFFER_SSH_CONFIG), checking the real host's key", async () => {
    const config = join(server.dir, "ssh_config");
    const alias = "coffer-nas";
    writeFileSync(
      config,
      [`Host ${alias}`, "  HostName 127.0.0.1", `  Port ${server.port}`, `  User ${server.user}`, "  IdentitiesOnly yes", `  IdentityFile ${server.userKey}`, `  UserKnownHostsFile ${server.knownHosts}`, "Host *", "  Port 1", ""].join("\n"),
    );
    // HOME holds no keys and no known_hosts: only the config can make this work.
    const url = `sftp:${alias}:${join(server.root, "alias")}`;
    const b = wrapBackend(openBackend(url, { env: { HOME: home, COFFER_SSH_CONFIG: config } }), { retry: fastRetry, env: {} });
    assert.equal(b.location, url);
    const repo = await Repository.init(b, { password: "pw", kdf: TEST_KDF });
    const h = handle("snapshot");
    await b.save(h, Buffer.from("via the alias"));
    assert.equal((await b.load(h)).toString(), "via the alias");
    await repo.close();
    assert.ok(existsSync(join(server.root, "alias", "config")));

    // known_hosts is searched for the real host and port (as ssh does), not for the alias.
    const aliasOnly = join(server.dir, "known_hosts.alias");
    writeFileSync(aliasOnly, `${server.hostKeyLine.replace(/^\S+/, `[${alias}]:${server.port}`)}\n`);
    const refused = wrapBackend(openBackend(url, { env: { HOME: home, COFFER_SSH_CONFIG: config, COFFER_SFTP_KNOWN_HOSTS: aliasOnly } }), { retry: fastRetry, env: {} });
    const err = await expectError(refused.stat(handle("snapshot")));
    assert.ok(refused.isPermanent(err), err.message);
    assert.equal(
      err.message.replace(/SHA256:\S+\)/, "SHA256:...)"),
      `The SSH server 127.0.0.1:${server.port} (Host ${alias} in ${config}) is not listed in ${aliasOnly}, so coffer cannot tell that it is the right server (it presents the ssh-ed25519 key SHA256:...); connect once with "ssh -p ${server.port} ${server.user}@${alias}" to check and accept its key, then run coffer again.`,
    );
    await refused.close();
  });

  it("logs in with a key held by ssh-agent (SSH_AUTH_SOCK)", async () => {
    const sock = join(server.dir, "agent.sock");
    const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      execFileSync("ssh-add", ["-q", server.userKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      const b = open("agent", { SSH_AUTH_SOCK: sock, COFFER_SFTP_KNOWN_HOSTS: server.knownHosts });
      await b.create();
      const h = handle("snapshot");
      await b.save(h, Buffer.from("via the agent"));
      assert.equal((await b.load(h)).toString(), "via the agent");
      await b.close();
    } finally {
      agent.kill();
    }
  });

  it("refuses a server missing from known_hosts, and one whose key changed: permanent, one sentence each", async () => {
    const empty = join(server.dir, "known_hosts.empty");
    writeFileSync(empty, "# nothing\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH1uAMhLaOctw1Ot8Ur2FwbkV5n6Ey6z6zX1A3RqMpcI\n");
    const unknown = open("hostkeys", { ...server.env, COFFER_SFTP_KNOWN_HOSTS: empty });
    const e1 = await expectError(unknown.create());
    assert.ok(unknown.isPermanent(e1), e1.message);
    assert.match(e1.message, /^The SSH server 127\.0\.0\.1:\d+ is not listed in .*known_hosts\.empty, so coffer cannot tell that it is the right server \(it presents the ssh-ed25519 key SHA256:\S+\); connect once with "ssh -p \d+ \S+@127\.0\.0\.1"/);
    assert.equal(existsSync(join(server.root, "hostkeys")), false, "nothing was created on a server coffer does not know");
    await unknown.close();

    const other = join(server.dir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other], { stdio: "ignore" });
    const changed = join(server.dir, "known_hosts.changed");
    writeFileSync(changed, `[127.0.0.1]:${server.port} ${readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`);
    const b = open("hostkeys", { ...server.env, COFFER_SFTP_KNOWN_HOSTS: changed });
    const e2 = await expectError(b.create());
    assert.ok(b.isPermanent(e2), e2.message);
    assert.match(e2.message, /^The host key of 127\.0\.0\.1:\d+ has changed \(it presents the ssh-ed25519 key SHA256:\S+, but .*known_hosts\.changed line 1 lists another\): someone may be intercepting the connection/);
    assert.match(e2.message, /ssh-keygen -R '\[127\.0\.0\.1\]:\d+'/);
    await b.close();
  });

  it("asks a server with several host keys for the one known_hosts lists", async () => {
    const two = await startSftpServer({ extraHostKey: "ecdsa" });
    try {
      const ecdsaOnly = join(two.dir, "known_hosts.ecdsa");
      writeFileSync(ecdsaOnly, `${two.hostKeyLines["ecdsa-sha2-nistp256"]}\n`);
      const b = wrapBackend(openBackend(two.url("twokeys"), { env: { HOME: home, COFFER_SFTP_KEY: two.userKey, COFFER_SFTP_KNOWN_HOSTS: ecdsaOnly } }), { retry: fastRetry, env: {} });
      await b.create();
      assert.deepEqual(await listAll(b, "key"), []);
      await b.close();
    } finally {
      await two.stop();
    }
  });

  it("refuses a key the server does not accept, and says when there is no key at all", async () => {
    const wrong = join(server.dir, "wrong_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrong], { stdio: "ignore" });
    const b = open("wrongkey", { COFFER_SFTP_KEY: wrong, COFFER_SFTP_KNOWN_HOSTS: server.knownHosts });
    const err = await expectError(b.create());
    assert.ok(b.isPermanent(err), err.message);
    assert.match(err.message, new RegExp(`^The SSH server 127\\.0\\.0\\.1:\\d+ refused the login of "${server.user}" with ${wrong.replace(/[.]/g, "\\.")}; add the public key to ~${server.user}/\\.ssh/authorized_keys`));
    await b.close();

    const none = open("nokey", { COFFER_SFTP_KNOWN_HOSTS: server.knownHosts });
    const e2 = await expectError(none.create());
    assert.ok(none.isPermanent(e2));
    assert.match(e2.message, /^No SSH key to log in to sftp:\/\/.* with; start ssh-agent and add a key with ssh-add, create one with "ssh-keygen -t ed25519", or name a key file with COFFER_SFTP_KEY\.$/);
    await none.close();

    const encrypted = join(server.dir, "encrypted_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", encrypted], { stdio: "ignore" });
    const enc = open("enckey", { COFFER_SFTP_KEY: encrypted, COFFER_SFTP_KNOWN_HOSTS: server.knownHosts });
    const e3 = await expectError(enc.create());
    assert.match(e3.message, /is protected by a passphrase \(add it to the agent with ssh-add\); check COFFER_SFTP_KEY\.$/);
    await enc.close();
  });

  it("reports a closed port as a transient error, after the retries", async () => {
    const port = await freePort();
    let retries = 0;
    const b = wrapBackend(openBackend(`sftp://${server.user}@127.0.0.1:${port}//srv/repo`, { env: { HOME: home, ...server.env } }), { retry: { ...fastRetry, onRetry: () => retries++ }, env: {} });
    const err = await expectError(b.stat(handle("snapshot")));
    assert.ok(!b.isPermanent(err) && !b.isNotFound(err), err.message);
    assert.match(err.message, /^Cannot reach the SSH server 127\.0\.0\.1:\d+ \(connection refused: nothing listens on that port\) for sftp:\/\/.*; check the host and port in the URL, and that sshd is running\.$/);
    assert.equal(retries, 2);
    await b.close();
  });

  it("says there is no repository at a path that does not exist (REPO_MISSING, exit 10)", async () => {
    const b = open("missing/deeper");
    const err = await expectError(Repository.open(b, { password: "x" }));
    assert.ok(isCofferError(err, "REPO_MISSING"), err.message);
    const e2 = await expectError(b.save(handle("lock"), Buffer.from("x")));
    assert.ok(isCofferError(e2, "REPO_MISSING"), e2.message);
    assert.match(e2.message, /^There is no repository at sftp:\/\/.*missing\/deeper; create one with "coffer init"\.$/);
    assert.equal(existsSync(join(server.root, "missing")), false);
    await b.close();
  });

  it("reports a server that refuses writes as permission denied, a permanent error", async () => {
    const ro = await startSftpServer({ readOnly: true });
    try {
      const b = wrapBackend(openBackend(ro.url("ro"), { env: { HOME: home, ...ro.env } }), { retry: fastRetry, env: {} });
      const err = await expectError(b.create());
      assert.ok(b.isPermanent(err), err.message);
      assert.match(err.message, /^The SFTP server 127\.0\.0\.1:\d+ denied permission while creating the repository directories of .*\/ro on 127\.0\.0\.1:\d+; check that the login user may read and write the repository directory there\.$/);
      await b.close();
    } finally {
      await ro.stop();
    }
  });

  it("fails with a transient error while the server is gone, and connects again once it is back", async () => {
    const bare = openBackend(server.url("reconnect"), { env: { HOME: home, ...server.env } });
    const b = wrapBackend(bare, { retry: { attempts: 1 }, env: {} });
    const repo = await Repository.init(b, { password: "pw", kdf: TEST_KDF });
    const h = handle("snapshot");
    await b.save(h, Buffer.from("before"));
    await server.kill();
    const err = await expectError(b.load(h));
    assert.ok(!b.isPermanent(err), err.message);
    assert.match(err.message, /^(The connection to the SFTP server 127\.0\.0\.1:\d+ broke while loading snapshots\/\w+ in sftp:|Cannot reach the SSH server 127\.0\.0\.1:\d+ \(connection refused)/);
    await server.start();
    assert.equal((await b.load(h)).toString(), "before");
    await b.save(handle("snapshot"), Buffer.from("after"));
    assert.equal((await listAll(b, "snapshot")).length, 2);
    await repo.close();
  });

  it("gives up on a server that stops answering (COFFER_SFTP_TIMEOUT), and connects again once it answers", async () => {
    const b = wrapBackend(openBackend(server.url("frozen"), { env: { HOME: home, ...server.env, COFFER_SFTP_TIMEOUT: "1" } }), { retry: { attempts: 1 }, env: {} });
    await b.create();
    const h = handle("index");
    await b.save(h, Buffer.from("kept"));
    server.pause();
    let err: CofferError;
    try {
      err = await expectError(b.load(h));
    } finally {
      server.resume();
    }
    assert.ok(!b.isPermanent(err), err.message);
    assert.match(err.message, /^The connection to the SFTP server 127\.0\.0\.1:\d+ broke while loading index\/\w+ in sftp:.* \(the server answered nothing for 1 s\)\.$/);
    assert.equal((await b.load(h)).toString(), "kept");
    await b.close();
  });
});
