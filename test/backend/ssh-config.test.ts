import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { isCofferError } from "../../src/core/errors.js";
import { type SshConfigOptions, sshHostConfig } from "../../src/backend/ssh-config.js";

/**
 * The OpenSSH client config reader, on config files written into a scratch home: each rule of
 * ssh_config(5) coffer relies on, and one clear error naming file and line for what it cannot read.
 */
describe("sshHostConfig", () => {
  const root = mkdtempSync(join(tmpdir(), "coffer-ssh-config-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  /** A fresh home whose ~/.ssh holds `files` (path under ~/.ssh → text); returns the options. */
  function home(files: Record<string, string>, extra: Partial<SshConfigOptions> = {}): SshConfigOptions {
    const h = join(root, `home${++n}`);
    for (const [name, text] of Object.entries(files)) {
      const path = name.startsWith("/") ? join(h, name) : join(h, ".ssh", name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
    return { file: join(h, ".ssh", "config"), home: h, localUser: "me", ...extra };
  }

  function invalid(fn: () => unknown, pattern: RegExp): void {
    assert.throws(fn, (err: unknown) => isCofferError(err, "INVALID") && pattern.test(err.message) && /; fix it, or set COFFER_SSH_CONFIG=none to ignore it\.$/.test(err.message));
  }

  it("gives a Host block's HostName, User, Port and IdentityFile (~ expanded)", () => {
    const o = home({ config: "Host nas\n  HostName nas.lan\n  User backup\n  Port 2222\n  IdentityFile ~/.ssh/backup_ed25519\n" });
    assert.deepEqual(sshHostConfig("nas", o), { hostName: "nas.lan", user: "backup", port: 2222, identityFiles: [join(o.home, ".ssh", "backup_ed25519")] });
    assert.deepEqual(sshHostConfig("nas.lan", o), { identityFiles: [] }, "Host matches the name as written, not the HostName");
    assert.deepEqual(sshHostConfig("NAS", o).hostName, "nas.lan", "host names compare case-insensitively");
  });

  it("matches several patterns per Host line, * and ? wildcards, and !negations", () => {
    const o = home({
      config: ["Host web? db*.lan", "  User ops", "Host *.lan !secret.lan", "  Port 2200", "Host !*.lan", "  User never", "Host *", "  User fallback", ""].join("\n"),
    });
    assert.deepEqual(sshHostConfig("web1", o), { user: "ops", identityFiles: [] });
    assert.deepEqual(sshHostConfig("web12", o), { user: "fallback", identityFiles: [] }, "? is one character");
    assert.deepEqual(sshHostConfig("db-main.lan", o), { user: "ops", port: 2200, identityFiles: [] });
    assert.deepEqual(sshHostConfig("secret.lan", o), { user: "fallback", identityFiles: [] }, "a negated pattern that matches rules the line out");
    assert.deepEqual(sshHostConfig("other", o), { user: "fallback", identityFiles: [] }, "a line of negations only matches nothing");
  });

  it("keeps the first value of each keyword, and adds up IdentityFile lines", () => {
    const o = home({
      config: ["User global", "IdentityFile ~/.ssh/first", "Host nas", "  User backup", "  Port 2222", "  IdentityFile ~/.ssh/second", "Host *", "  Port 22", "  HostName elsewhere", "  IdentityFile /keys/third", ""].join("\n"),
    });
    const ssh = join(o.home, ".ssh");
    assert.deepEqual(sshHostConfig("nas", o), { hostName: "elsewhere", user: "global", port: 2222, identityFiles: [join(ssh, "first"), join(ssh, "second"), "/keys/third"] });
  });

  it("applies Match all, and skips every other Match block without applying it", () => {
    const o = home({
      config: ["Match host nas", "  User matched", "  Port 1", "Match exec true", "  IdentityFile ~/.ssh/exec", "Match all", "  Port 2022", "Host nas", "  User backup", "Match canonical all", "  User canonical", ""].join("\n"),
    });
    assert.deepEqual(sshHostConfig("nas", o), { user: "backup", port: 2022, identityFiles: [] });
  });

  it("expands %h in HostName, and ~ and %d %u %h %n %r %p %% in file names", () => {
    const o = home(
      {
        config: ["Host *.lan", "  HostName %h.example.com", "  Port 2222", "  IdentityFile %d/keys/%u-%r@%h:%p", "  IdentityFile ~/.ssh/%n_100%%", "  UserKnownHostsFile ~/.ssh/known_%n /etc/known", ""].join("\n"),
      },
      { localUser: "alice" },
    );
    const h = o.home;
    assert.deepEqual(sshHostConfig("nas.lan", o), {
      hostName: "nas.lan.example.com",
      port: 2222,
      identityFiles: [`${h}/keys/alice-alice@nas.lan.example.com:2222`, join(h, ".ssh", "nas.lan_100%")],
      userKnownHostsFiles: [join(h, ".ssh", "known_nas.lan"), "/etc/known"],
    });
    const local = hostname();
    // %l %L the local host name, %k the name in the URL, %C a hash of %l%h%p%r (as ssh makes it).
    const more = home({ config: "IdentityFile ~/.ssh/%l/%L/%C/%k\n" }, { localUser: "alice" });
    assert.deepEqual(sshHostConfig("nas.lan", more).identityFiles, [join(more.home, ".ssh", local, local.split(".")[0] as string, createHash("sha1").update(`${local}nas.lan22alice`).digest("hex"), "nas.lan")]);
    // %r and %p are the login name and port the URL chose over the config's.
    assert.deepEqual(sshHostConfig("nas.lan", { ...o, user: "backup", port: 22 }).identityFiles[0], `${h}/keys/alice-backup@nas.lan.example.com:22`);
  });

  it("reads IdentitiesOnly, UserKnownHostsFile none and IdentityFile none", () => {
    const o = home({ config: "Host a\n  IdentitiesOnly yes\n  IdentityFile none\n  UserKnownHostsFile none\nHost b\n  IdentitiesOnly no\n" });
    assert.deepEqual(sshHostConfig("a", o), { identitiesOnly: true, identityFiles: [], userKnownHostsFiles: [] });
    assert.deepEqual(sshHostConfig("b", o), { identitiesOnly: false, identityFiles: [] });
  });

  it("takes any keyword case, Keyword=value, quoted values, comments, blank lines and CRLF", () => {
    const o = home({
      config: ["# a comment", "", "   ", "HOST=nas", "\thostname = nas.lan   # a trailing comment", "  uSeR=\"backup\"", '  IdentityFile "~/.ssh/my key"', "  identityfile '/keys/it''s' ", "  PORT  2222", "  ProxyCommand none", ""].join("\r\n"),
    });
    assert.deepEqual(sshHostConfig("nas", o), { hostName: "nas.lan", user: "backup", port: 2222, identityFiles: [join(o.home, ".ssh", "my key"), "/keys/its"] });
  });

  it("reads Include files relative to ~/.ssh, in glob order, only where the block applies", () => {
    const o = home({
      config: ["Include config.d/*.conf missing.conf", "Host nas", "  Include ~/.ssh/nas.inc", "Host other", "  Include broken.inc", "Host *", "  User fallback", ""].join("\n"),
      "config.d/20-b.conf": "Host nas\n  Port 2222\n  User from-b\n",
      "config.d/10-a.conf": "IdentityFile ~/.ssh/from-a\n",
      "config.d/.hidden.conf": "User hidden\n",
      "config.d/notes.txt": "User notes\n",
      "nas.inc": "HostName nas.lan\nHost elsewhere\n  User leaked\n",
      "broken.inc": 'User "unclosed\n',
    });
    // The Host line inside nas.inc ends with that file: "Host *" after it still applies.
    assert.deepEqual(sshHostConfig("nas", o), { hostName: "nas.lan", user: "from-b", port: 2222, identityFiles: [join(o.home, ".ssh", "from-a")] });
    assert.deepEqual(sshHostConfig("x", o), { user: "fallback", identityFiles: [join(o.home, ".ssh", "from-a")] });
    // An error in an included file names that file and its line.
    invalid(() => sshHostConfig("other", o), /^The SSH config file .*\/\.ssh\/broken\.inc line 1 has a quote that is not closed/);
  });

  it("says nothing for a missing file, and refuses one it cannot read, naming it", () => {
    const o = home({});
    assert.deepEqual(sshHostConfig("nas", o), { identityFiles: [] });
    mkdirSync(o.file, { recursive: true });
    assert.throws(
      () => sshHostConfig("nas", { ...o, shown: () => "~/.ssh/config" }),
      (err: unknown) => isCofferError(err, "IO") && /^The SSH config file ~\/\.ssh\/config cannot be read \(EISDIR\); fix it, or set COFFER_SSH_CONFIG=none to ignore it\.$/.test(err.message),
    );
  });

  it("refuses a line it cannot parse in one sentence naming the file and line", () => {
    const bad = (text: string): SshConfigOptions => home({ config: `# fine\nHost nas\n${text}\n` });
    invalid(() => sshHostConfig("nas", bad("  Port twenty")), /line 3 sets Port "twenty", not a number from 1 to 65535/);
    invalid(() => sshHostConfig("nas", bad("  Port 70000")), /line 3 sets Port "70000"/);
    invalid(() => sshHostConfig("nas", bad('  User "back up')), /line 3 has a quote that is not closed/);
    invalid(() => sshHostConfig("nas", bad("  IdentityFile ~/.ssh/%x")), /line 3 uses %x in "~\/\.ssh\/%x", a token coffer does not expand/);
    invalid(() => sshHostConfig("nas", bad("  HostName %r.lan")), /line 3 uses %r in "%r\.lan", a token coffer does not expand \(it knows %% %h\)/);
    invalid(() => sshHostConfig("nas", bad("  IdentitiesOnly maybe")), /line 3 sets IdentitiesOnly "maybe", not yes or no/);
    invalid(() => sshHostConfig("nas", bad("  User a b")), /line 3 has more than one value after user/);
    invalid(() => sshHostConfig("nas", bad("Host")), /line 3 has a Host line without a pattern/);
    invalid(() => sshHostConfig("nas", bad("=value")), /line 3 has no keyword/);
    invalid(() => sshHostConfig("nas", home({ config: "Include config\n" })), /line 1 nests Include more than 16 deep/);
    // Lines in blocks for other hosts are parsed, but bad values there are not this host's problem.
    assert.deepEqual(sshHostConfig("other", bad("  Port twenty")), { identityFiles: [] });
  });
});
