import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertOneSentence, repoFiles, type Sandbox, sandbox, writeFile } from "./fault-helpers.js";

/**
 * A wrong password is exit 12 and writes nothing (no lock, no pack, no snapshot); a location
 * without a repository is exit 10 and creates nothing. Scripts tell "wrong secret" from
 * "no repository here" by these codes, so both are part of the CLI contract.
 */
describe("wrong password and missing repository", { timeout: 120_000 }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await sandbox("password");
    writeFile(join(sb.src, "a.txt"), "content a\n");
    const r = await sb.cli(["backup", sb.src]);
    assert.equal(r.code, 0, r.err);
    writeFile(join(sb.src, "b.txt"), "content b, new since the first snapshot\n");
  });
  after(() => sb.cleanup());

  for (const argv of [["backup"], ["snapshots"], ["ls", "latest"], ["key", "list"]]) {
    it(`${argv.join(" ")} with a wrong password: exit 12, one sentence, nothing written`, async () => {
      const files = repoFiles(sb.repo);
      const args = argv[0] === "backup" ? [...argv, sb.src] : argv;
      const r = await sb.cli(args, { env: { ...sb.env, COFFER_PASSWORD: "not-the-password" } });
      assert.equal(r.code, 12, r.err);
      assertOneSentence(r.err);
      assert.deepEqual(repoFiles(sb.repo), files, "the repository is unchanged (no lock left, nothing saved)");
    });
  }

  it("a wrong password from --password-file: exit 12", async () => {
    const files = repoFiles(sb.repo);
    const pwFile = join(sb.dir, "wrong.pw");
    writeFile(pwFile, "also-wrong\n");
    const env = { ...sb.env };
    delete env.COFFER_PASSWORD;
    const r = await sb.cli(["--password-file", pwFile, "backup", sb.src], { env });
    assert.equal(r.code, 12, r.err);
    assertOneSentence(r.err);
    assert.deepEqual(repoFiles(sb.repo), files);
  });

  it("the right password still works afterwards", async () => {
    const r = await sb.cli(["snapshots"]);
    assert.equal(r.code, 0, r.err);
  });

  it("a location with nothing there: exit 10, and nothing is created there", async () => {
    const missing = join(sb.dir, "no-repo-here");
    for (const argv of [["snapshots"], ["backup", sb.src]]) {
      const r = await sb.cli(["-r", missing, ...argv]);
      assert.equal(r.code, 10, `${argv.join(" ")}: ${r.err}`);
      assertOneSentence(r.err);
      assert.equal(existsSync(missing), false, `${argv.join(" ")} created ${missing}`);
    }
  });

  it("a directory without a config file: exit 10, nothing written", async () => {
    const other = await sandbox("password-noconfig");
    try {
      rmSync(join(other.repo, "config"));
      const files = repoFiles(other.repo);
      for (const argv of [["snapshots"], ["backup", sb.src]]) {
        const r = await other.cli(argv);
        assert.equal(r.code, 10, `${argv.join(" ")}: ${r.err}`);
        assertOneSentence(r.err);
        assert.deepEqual(repoFiles(other.repo), files);
      }
    } finally {
      await other.cleanup();
    }
  });

  it("a repository whose key files are all gone: exit 12 (no key opens it, as restic), nothing written", async () => {
    const other = await sandbox("password-nokeys");
    try {
      rmSync(join(other.repo, "keys"), { recursive: true });
      const files = repoFiles(other.repo);
      for (const argv of [["snapshots"], ["backup", sb.src]]) {
        const r = await other.cli(argv);
        assert.equal(r.code, 12, `${argv.join(" ")}: ${r.err}`);
        const line = assertOneSentence(r.err);
        assert.match(line, /key/i, "the message says the keys are missing");
        assert.deepEqual(repoFiles(other.repo), files);
      }
    } finally {
      await other.cleanup();
    }
  });
});
