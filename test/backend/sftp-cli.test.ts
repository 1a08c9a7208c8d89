import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openBackend, wrapBackend } from "../../src/backend/open.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { baseEnv, makeTree, PASSWORD, sleep, spawnCli } from "../faults/fault-helpers.js";
import { expectFailure, expectOk } from "../faults/s3-fault-helpers.js";
import { RemoteCli } from "../helpers/remote-cli.js";
import { freePort } from "../helpers/s3-server.js";
import { sftpSkip, type SftpServer, startSftpServer } from "../helpers/sftp-server.js";

/**
 * `coffer` against an SFTP repository on a real OpenSSH server, end to end, as a user runs it:
 * the key and known_hosts in ~/.ssh; init, backup, check --read-data, restore; the usual
 * mistakes (a key the server does not accept, an unknown host key, a closed port, no
 * repository at the path) each give one sentence and the exit code of the CLI conventions; and
 * the server killed in the middle of a backup.
 */
describe("coffer with an SFTP repository", { timeout: 600_000, skip: sftpSkip() }, () => {
  let server: SftpServer;
  const sb = new RemoteCli(baseEnv);
  const { env, cli, backupId, roundTrip, expectRecovered } = sb;

  before(async () => {
    server = await startSftpServer();
    sb.dir = await mkdtemp(join(tmpdir(), "coffer-sftp-cli-"));
    // A user whose ~/.ssh holds the key sshd accepts and the server's host key, as after "ssh" once.
    mkdirSync(join(sb.home, ".ssh"), { recursive: true, mode: 0o700 });
    writeFileSync(join(sb.home, ".ssh", "id_ed25519"), readFileSync(server.userKey), { mode: 0o600 });
    writeFileSync(join(sb.home, ".ssh", "known_hosts"), `${server.hostKeyLine}\n`);
  });
  after(async () => {
    await server?.stop();
    if (sb.dir) await rm(sb.dir, { recursive: true, force: true });
  });

  /** Packs in a repository on the server's disk (the server is this machine). */
  function packCount(name: string): number {
    const data = join(server.root, name, "data");
    if (!existsSync(data)) return 0;
    return readdirSync(data).reduce((n, sub) => n + readdirSync(join(data, sub)).filter((f) => !f.startsWith(".")).length, 0);
  }

  it("inits, backs up, checks every byte and restores exactly, with the user's ~/.ssh", async () => {
    const url = server.url("e2e");
    const src = join(sb.dir, "src-roundtrip");
    await roundTrip(url, src);
    expectOk(await cli(url, ["check", "--read-data"]), "check --read-data");
    // The scp-like form names the same repository (port from COFFER_SFTP_PORT, known_hosts as "[host]:port").
    const scp = `sftp:${server.user}@127.0.0.1:${join(server.root, "e2e")}`;
    const snaps = await cli(scp, ["--json", "snapshots"], { COFFER_SFTP_PORT: String(server.port) });
    expectOk(snaps, "snapshots over the scp-like URL");
    assert.equal((JSON.parse(snaps.out) as unknown[]).length, 2);

    expectFailure(await cli(url, ["init"]), 1, /^coffer: A repository already exists at sftp:\/\//);
  });

  it("inits and backs up through a Host alias of the SSH config named by COFFER_SSH_CONFIG", async () => {
    const config = join(sb.dir, "ssh_config");
    writeFileSync(config, ["Host backup-box", "  HostName 127.0.0.1", `  Port ${server.port}`, `  User ${server.user}`, `  IdentityFile ${server.userKey}`, `  UserKnownHostsFile ${server.knownHosts}`, ""].join("\n"));
    // A home without ~/.ssh: the key, the known host, the port and the user all come from the config.
    const bare = join(sb.dir, "bare-home");
    mkdirSync(bare, { recursive: true });
    const extra = { HOME: bare, COFFER_SSH_CONFIG: config };
    const url = `sftp:backup-box:${join(server.root, "via-alias")}`;
    expectOk(await cli(url, ["init"], extra), "init");
    const src = join(sb.dir, "src-alias");
    makeTree(src, { small: 5, big: [1 << 20], seed: 3 });
    await backupId(url, src, extra);
    const snaps = await cli(url, ["--json", "snapshots"], extra);
    expectOk(snaps, "snapshots");
    assert.equal((JSON.parse(snaps.out) as unknown[]).length, 1);
    assert.ok(packCount("via-alias") > 0);
  });

  it("refuses a key the server does not accept in one sentence, exit 1", async () => {
    const url = server.url("wrongkey");
    expectOk(await cli(url, ["init"]), "init");
    const wrong = join(sb.dir, "wrong_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrong], { stdio: "ignore" });
    const r = await cli(url, ["snapshots"], { COFFER_SFTP_KEY: wrong });
    expectFailure(r, 1, new RegExp(`^coffer: The SSH server 127\\.0\\.0\\.1:${server.port} refused the login of "${server.user}" with ${wrong.replace(/[.]/g, "\\.")}; add the public key to ~${server.user}/\\.ssh/authorized_keys on the server, or name the right key with COFFER_SFTP_KEY`));
  });

  it("refuses a server whose host key is unknown or changed in one sentence, exit 1", async () => {
    const url = server.url("hostkey");
    const empty = join(sb.dir, "known_hosts.empty");
    writeFileSync(empty, "");
    const r = await cli(url, ["init"], { COFFER_SFTP_KNOWN_HOSTS: empty });
    expectFailure(r, 1, new RegExp(`^coffer: The SSH server 127\\.0\\.0\\.1:${server.port} is not listed in .*known_hosts\\.empty, so coffer cannot tell that it is the right server \\(it presents the ssh-ed25519 key SHA256:\\S+\\); connect once with "ssh -p ${server.port} ${server.user}@127\\.0\\.0\\.1" to check and accept its key, then run coffer again\\.$`));
    assert.equal(existsSync(join(server.root, "hostkey")), false);

    const otherKey = join(sb.dir, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey], { stdio: "ignore" });
    const changed = join(sb.dir, "known_hosts.changed");
    writeFileSync(changed, `[127.0.0.1]:${server.port} ${readFileSync(`${otherKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`);
    expectFailure(await cli(url, ["init"], { COFFER_SFTP_KNOWN_HOSTS: changed }), 1, /^coffer: The host key of 127\.0\.0\.1:\d+ has changed \(it presents the ssh-ed25519 key SHA256:\S+, but .* line 1 lists another\): someone may be intercepting the connection/);
  });

  it("reports a closed port after the retries in one sentence, exit 1", async () => {
    const port = await freePort();
    const r = await cli(`sftp://${server.user}@127.0.0.1:${port}//srv/repo`, ["snapshots"], { COFFER_BACKEND_RETRIES: "2" });
    expectFailure(r, 1, new RegExp(`^coffer: Cannot reach the SSH server 127\\.0\\.0\\.1:${port} \\(connection refused: nothing listens on that port\\) for sftp://.*; check the host and port in the URL, and that sshd is running\\.$`));
  });

  it("says there is no repository at a path that holds none, exit 10", async () => {
    const r = await cli(server.url("nothing/here"), ["snapshots"]);
    expectFailure(r, 10, /^coffer: There is no repository at sftp:\/\/.*\/nothing\/here; create one with "coffer init"/);
  });

  it("survives the server killed in the middle of a backup: a clear error, no damage, the next run completes", async (t) => {
    const name = "kill";
    const url = server.url(name);
    const opened = wrapBackend(openBackend(url, { env: { HOME: sb.home } }));
    // Small packs, so the backup uploads many and is surely in the middle when the server dies.
    await (await Repository.init(opened, { password: PASSWORD, kdf: TEST_KDF, packSize: 1 << 20 })).close();
    const early = join(sb.dir, "src-early");
    makeTree(early, { small: 20, big: [2 << 20], seed: 7 });
    const earlyId = await backupId(url, early);

    const src = join(sb.dir, "src-kill");
    makeTree(src, { small: 10, big: [24 << 20, 24 << 20], seed: 8 });
    const before = packCount(name);
    const run = spawnCli(["-r", url, "backup", src], { env: env({ COFFER_BACKEND_RETRIES: "2" }), cwd: sb.dir });
    let uploaded = 0;
    try {
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(20)) {
        uploaded = packCount(name) - before;
        if (uploaded >= 5 || run.child.exitCode !== null) break;
      }
      assert.ok(uploaded >= 5, `the backup uploaded ${uploaded} packs before it ended:\n${run.err()}`);
      await server.kill();
      const killed = await run.done;
      expectFailure(killed, 1, new RegExp(`^coffer: (Cannot reach the SSH server 127\\.0\\.0\\.1:${server.port} \\(connection refused|The connection to the SFTP server 127\\.0\\.0\\.1:${server.port} broke while \\w+)`));
      t.diagnostic(`killed after ${uploaded} packs; the backup failed with: ${killed.err.trim()}`);
    } finally {
      await server.start();
    }

    await expectRecovered(url, earlyId, early, src);
  });
});
