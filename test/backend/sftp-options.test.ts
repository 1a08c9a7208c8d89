import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openBackend } from "../../src/backend/open.js";
import { sftpOptions } from "../../src/backend/sftp-options.js";
import { isCofferError } from "../../src/core/errors.js";

/**
 * How ~/.ssh/config meets the URL and the COFFER_SFTP_* variables: the URL, then the
 * variables, then the config, then the defaults; the location stays as the URL writes it.
 */
describe("sftpOptions with an SSH config", () => {
  const home = mkdtempSync(join(tmpdir(), "coffer-sftp-options-"));
  after(() => rmSync(home, { recursive: true, force: true }));
  const ssh = join(home, ".ssh");
  mkdirSync(ssh);
  writeFileSync(
    join(ssh, "config"),
    ["Host nas", "  HostName nas.lan", "  User backup", "  Port 2222", "  IdentityFile ~/.ssh/backup_ed25519", "  UserKnownHostsFile ~/.ssh/known_nas", "Host strict", "  IdentitiesOnly yes", "  IdentityFile ~/.ssh/strict", "Host lone", "  IdentitiesOnly yes", ""].join("\n"),
  );
  const env = { HOME: home, SSH_AUTH_SOCK: "/run/agent" };
  const defaults = ["id_ed25519", "id_ecdsa", "id_rsa"].map((k) => join(ssh, k));

  it("connects an alias where ssh would, keeping the URL as the location", () => {
    const o = sftpOptions("sftp:nas:/srv/coffer", env);
    assert.deepEqual(
      { hostName: o.hostName, host: o.host, user: o.user, port: o.port, defaultUser: o.defaultUser, defaultPort: o.defaultPort, identityFiles: o.identityFiles, agent: o.agent, knownHostsFiles: o.knownHostsFiles, sshConfig: o.sshConfig },
      {
        hostName: "nas.lan",
        host: "nas",
        user: undefined,
        port: undefined,
        defaultUser: "backup",
        defaultPort: 2222,
        identityFiles: [join(ssh, "backup_ed25519"), ...defaults],
        agent: "/run/agent",
        knownHostsFiles: [join(ssh, "known_nas"), "/etc/ssh/ssh_known_hosts"],
        sshConfig: "~/.ssh/config",
      },
    );
    assert.equal(openBackend("sftp:nas:/srv/coffer", { env }).location, "sftp:nas:/srv/coffer");
  });

  it("lets the URL, then COFFER_SFTP_USER/PORT/KEY/KNOWN_HOSTS, win over the config", () => {
    const url = sftpOptions("sftp://root@nas:22//srv", env);
    assert.deepEqual([url.user, url.port, url.hostName], ["root", 22, "nas.lan"]);
    const vars = sftpOptions("sftp:nas:/srv", { ...env, COFFER_SFTP_USER: "ops", COFFER_SFTP_PORT: "2200", COFFER_SFTP_KEY: "/keys/k", COFFER_SFTP_KNOWN_HOSTS: "/keys/known" });
    assert.deepEqual([vars.defaultUser, vars.defaultPort, vars.identityFiles, vars.explicitKey, vars.agent, vars.knownHostsFiles, vars.hostName], ["ops", 2200, ["/keys/k"], true, undefined, ["/keys/known"], "nas.lan"]);
  });

  it("with IdentitiesOnly yes, uses the config's key files alone (no agent, no ~/.ssh/id_*)", () => {
    const o = sftpOptions("sftp:strict:/srv", env);
    assert.deepEqual([o.identityFiles, o.agent], [[join(ssh, "strict")], undefined]);
    const lone = sftpOptions("sftp:lone:/srv", env);
    assert.deepEqual([lone.identityFiles, lone.agent], [defaults, undefined], "with no IdentityFile, the default files remain, as in ssh");
  });

  it("reads COFFER_SSH_CONFIG instead, or nothing with COFFER_SSH_CONFIG=none; a host the config does not name is as before", () => {
    const other = join(home, "other_config");
    writeFileSync(other, "Host nas\n  HostName 192.0.2.7\n");
    assert.equal(sftpOptions("sftp:nas:/srv", { ...env, COFFER_SSH_CONFIG: other }).hostName, "192.0.2.7");
    assert.equal(sftpOptions("sftp:nas:/srv", { ...env, COFFER_SSH_CONFIG: other }).sshConfig, "~/other_config");
    const none = sftpOptions("sftp:nas:/srv", { ...env, COFFER_SSH_CONFIG: "none" });
    assert.deepEqual([none.hostName, none.defaultPort, none.identityFiles, none.sshConfig], [undefined, undefined, defaults, undefined]);
    const plain = sftpOptions("sftp:elsewhere:/srv", env);
    assert.deepEqual([plain.hostName, plain.defaultPort, plain.identityFiles, plain.sshConfig], [undefined, undefined, defaults, undefined]);
    assert.deepEqual(sftpOptions("sftp:nas:/srv", { ...env, COFFER_SSH_CONFIG: join(home, "missing") }).hostName, undefined);
  });

  it("refuses a broken config when opening the repository, naming the file and line", () => {
    const broken = join(home, "broken_config");
    writeFileSync(broken, "Host nas\n  Port none\n");
    assert.throws(
      () => openBackend("sftp:nas:/srv", { env: { ...env, COFFER_SSH_CONFIG: broken } }),
      (err: unknown) => isCofferError(err, "INVALID") && err.message === 'The SSH config file ~/broken_config line 2 sets Port "none", not a number from 1 to 65535; fix it, or set COFFER_SSH_CONFIG=none to ignore it.',
    );
  });
});

describe("sftpOptions and proxies", () => {
  const home = mkdtempSync(join(tmpdir(), "coffer-sftp-proxy-"));
  after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, ".ssh"));
  writeFileSync(
    join(home, ".ssh", "config"),
    ["Host inner", "  HostName 10.0.0.5", "  ProxyJump bastion", "Host piped", "  ProxyCommand ssh -W %h:%p bastion", "Host direct", "  ProxyJump none", "  HostName direct.lan", "Host *", "  ProxyJump bastion", ""].join("\n"),
  );
  const env = { HOME: home };

  it("refuses a host the config sends through ProxyJump or ProxyCommand, naming the line", () => {
    assert.throws(() => sftpOptions("sftp:inner:/srv", env), (e: unknown) => isCofferError(e, "UNSUPPORTED") && /^The SSH config file ~\/\.ssh\/config line 3 sends inner through a ProxyJump, which coffer cannot follow/.test(e.message));
    assert.throws(() => sftpOptions("sftp:piped:/srv", env), (e: unknown) => isCofferError(e, "UNSUPPORTED") && /line 5 sends piped through a ProxyCommand/.test(e.message));
    assert.throws(() => sftpOptions("sftp:other:/srv", env), (e: unknown) => isCofferError(e, "UNSUPPORTED") && /line 10/.test(e.message), "Host * applies too");
  });

  it("follows a block whose ProxyJump is none, and ignores the file with COFFER_SSH_CONFIG=none", () => {
    assert.equal(sftpOptions("sftp:direct:/srv", env).hostName, "direct.lan");
    assert.equal(sftpOptions("sftp:inner:/srv", { ...env, COFFER_SSH_CONFIG: "none" }).host, "inner");
  });
});
