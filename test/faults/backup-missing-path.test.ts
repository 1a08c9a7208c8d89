import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertOneSentence, repoFiles, runCli, type Sandbox, sandbox, writeFile } from "./fault-helpers.js";

/**
 * `coffer backup` of a path that does not exist fails before anything is written: exit 1, one
 * sentence naming the path (no stack trace), and the repository exactly as it was — no
 * snapshot, pack, index or lock file — also when an existing path is given with it.
 */
describe("backup of a missing path", { timeout: 120_000 }, () => {
  let sb: Sandbox;
  let before_: string[];
  before(async () => {
    sb = await sandbox("missing-path");
    writeFile(join(sb.src, "a.txt"), "some content\n");
    writeFile(join(sb.src, "sub", "b.txt"), "more content\n");
    before_ = repoFiles(sb.repo);
  });
  after(() => sb.cleanup());

  const cases: [string, (s: Sandbox) => string[]][] = [
    ["the only path", () => ["/no/such"]],
    ["after an existing path", (s) => [s.src, "/no/such"]],
    ["before an existing path", (s) => ["/no/such", s.src]],
    ["below an existing directory", (s) => [join(s.src, "missing.txt")]],
    ["with a file as a directory", (s) => [join(s.src, "a.txt", "x")]],
  ];
  for (const [name, paths] of cases) {
    it(`${name}: exit 1, one sentence, nothing written`, async () => {
      const p = paths(sb);
      const r = await sb.cli(["backup", ...p]);
      assert.equal(r.code, 1, r.err);
      const line = assertOneSentence(r.err);
      const missing = p.find((x) => x !== sb.src) as string;
      assert.ok(line.includes(missing), `the message names ${missing}: ${line}`);
      assert.equal(r.out, "", "nothing on stdout");
      assert.deepEqual(repoFiles(sb.repo), before_, "the repository is unchanged");
    });
  }

  it("with --json the error is the same and nothing is written", async () => {
    const r = await sb.cli(["--json", "backup", sb.src, "/no/such"]);
    assert.equal(r.code, 1, r.err);
    assertOneSentence(r.err);
    assert.deepEqual(repoFiles(sb.repo), before_);
  });

  it("with no repository named and none yet: the default repository and its password are not created", async () => {
    const env = { ...sb.env };
    delete env.COFFER_PASSWORD;
    const r = await runCli(["backup", "/no/such"], { env, cwd: sb.dir });
    assert.equal(r.code, 1, r.err);
    assert.equal(existsSync(join(sb.home, "data", "coffer")), false, `a typo in a path must not create the default repository:\n${r.err}`);
    assert.equal(existsSync(join(sb.home, "config", "coffer")), false, "nor its password file");
    const line = assertOneSentence(r.err);
    assert.ok(line.includes("/no/such"), line);
  });

  it("the repository still works: a backup of the existing path succeeds", async () => {
    const r = await sb.cli(["backup", sb.src]);
    assert.equal(r.code, 0, r.err);
    assert.equal(repoFiles(sb.repo).filter((l) => l.startsWith("snapshots/")).length, 1);
  });
});
