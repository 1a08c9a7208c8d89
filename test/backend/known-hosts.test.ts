import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { blobType, checkHostKey, fingerprint, hostMatches, knownHostName, knownKeyTypes, parseKnownHosts } from "../../src/backend/known-hosts.js";

/** A key blob as a server sends it: type string, then (fake) key material. */
function blob(type: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, randomBytes(36)]);
}

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe("known_hosts", () => {
  const ed = blob("ssh-ed25519");
  const ed2 = blob("ssh-ed25519");
  const rsa = blob("ssh-rsa");

  it("names hosts as OpenSSH does: plain for port 22, [host]:port otherwise, lower case", () => {
    assert.equal(knownHostName("NAS.lan", 22), "nas.lan");
    assert.equal(knownHostName("127.0.0.1", 2222), "[127.0.0.1]:2222");
    assert.equal(knownHostName("::1", 2222), "[::1]:2222");
  });

  it("matches plain, wildcard, negated and hashed host fields", () => {
    assert.ok(hostMatches("nas.lan,10.0.0.5", "nas.lan"));
    assert.ok(hostMatches("nas.lan,10.0.0.5", "10.0.0.5"));
    assert.ok(!hostMatches("nas.lan", "nas.lan.evil"));
    assert.ok(hostMatches("*.lan", "nas.lan"));
    assert.ok(hostMatches("10.0.0.?", "10.0.0.7"));
    assert.ok(!hostMatches("*.lan,!nas.lan", "nas.lan"));
    assert.ok(hostMatches("*.lan,!nas.lan", "pi.lan"));
    assert.ok(hostMatches("[127.0.0.1]:2222", "[127.0.0.1]:2222"));
    assert.ok(!hostMatches("127.0.0.1", "[127.0.0.1]:2222"), "a port-22 entry does not cover another port");
    assert.ok(hostMatches(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2222"));
    assert.ok(!hostMatches(hashed("nas.lan"), "pi.lan"));
  });

  it("parses lines with markers, comments and junk, keeping line numbers", () => {
    const text = [
      "# a comment",
      "",
      `nas.lan ssh-ed25519 ${ed.toString("base64")} root@nas`,
      `@revoked old.lan ssh-ed25519 ${ed2.toString("base64")}`,
      `@cert-authority *.lan ssh-rsa ${rsa.toString("base64")}`,
      "broken-line-without-key",
      `mismatch ssh-rsa ${ed.toString("base64")}`,
      `  ${hashed("pi.lan")} ssh-rsa ${rsa.toString("base64")}`,
    ].join("\n");
    const entries = parseKnownHosts(text, "/k");
    assert.deepEqual(
      entries.map((e) => [e.line, e.revoked, e.type]),
      [
        [3, false, "ssh-ed25519"],
        [4, true, "ssh-ed25519"],
        [8, false, "ssh-rsa"],
      ],
    );
    assert.ok(entries[0]?.key.equals(ed));
  });

  it("says known, unknown, changed, other types or revoked", () => {
    const entries = parseKnownHosts(
      [`nas.lan ssh-ed25519 ${ed.toString("base64")}`, `rsa-only.lan ssh-rsa ${rsa.toString("base64")}`, `@revoked bad.lan ssh-ed25519 ${ed2.toString("base64")}`, `bad.lan ssh-ed25519 ${ed.toString("base64")}`].join("\n"),
      "/k",
    );
    assert.equal(checkHostKey(entries, "nas.lan", ed).status, "known");
    assert.equal(checkHostKey(entries, "pi.lan", ed).status, "unknown");
    const changed = checkHostKey(entries, "nas.lan", ed2);
    assert.equal(changed.status, "changed");
    assert.equal(changed.status === "changed" && changed.entry.line, 1);
    const other = checkHostKey(entries, "rsa-only.lan", ed);
    assert.deepEqual(other.status === "other-types" && other.types, ["ssh-rsa"]);
    assert.equal(checkHostKey(entries, "bad.lan", ed2).status, "revoked", "a revoked key is refused even where another line would accept it");
    assert.equal(checkHostKey(entries, "bad.lan", ed).status, "known");
    assert.deepEqual(knownKeyTypes(entries, "rsa-only.lan"), ["ssh-rsa"]);
    assert.deepEqual(knownKeyTypes(entries, "bad.lan"), ["ssh-ed25519"]);
  });

  it("prints fingerprints as ssh-keygen -l does", () => {
    // An ed25519 key as OpenSSH writes it, and what `ssh-keygen -lf` prints for it.
    const key = Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAINfZWO3PiiQZ8wS3LIUfbc3ENEVu08E7pvZfkefu3xLA", "base64");
    assert.equal(blobType(key), "ssh-ed25519");
    assert.equal(fingerprint(key), "SHA256:YimkMPsmmMkCOgYdWX/e76Y1/d27F0+EOT9+a8k+w50");
  });
});
