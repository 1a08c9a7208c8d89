import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../src/cli/main.js";
import { snapshotProtections } from "../../src/ops/forget.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";
import { type CliRepo, makeCliRepo } from "./cli-repo.js";
import { fakeIO } from "./fake-io.js";

/** pre-change / change, revision, rollback and restore --in-place through the CLI, in process. */
describe("snapshot lifecycle commands", () => {
  let cli: CliRepo;
  let proj: string;
  const write = (rel: string, text: string): void => {
    mkdirSync(dirname(join(proj, rel)), { recursive: true });
    writeFileSync(join(proj, rel), text);
  };
  const read = (rel: string): string => readFileSync(join(proj, rel), "utf8");
  const json = async (argv: string[]) => {
    const r = await cli.run(["--json", ...argv]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out);
  };
  const snapshots = async () => {
    const repo = await cli.open();
    try {
      return await listSnapshots(repo);
    } finally {
      await repo.close();
    }
  };

  before(async () => {
    cli = await makeCliRepo();
    proj = join(cli.dir, "project");
    write(".gitignore", "node_modules/\n");
    write("src/app.ts", "export const version = 1;\n");
    write("src/util.ts", "export const util = true;\n");
    write("node_modules/dep/index.js", "module.exports = 1;\n");
  });
  after(() => cli.cleanup());

  it("pre-change: a pending, protected snapshot; change verify and retire end the protection", async () => {
    const cwd = process.cwd();
    process.chdir(proj);
    let made;
    try {
      made = await json(["pre-change", "upgrade the parser", "--ticket", "OPS-7", "--ignore-file", ".gitignore"]);
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(made.change, { status: "pending", ticket: "OPS-7" });
    assert.deepEqual(made.paths, [proj], "the current directory by default");
    let s = (await snapshots()).find((x) => x.id === made.snapshot_id);
    assert.equal(s?.kind, "pre-change");
    assert.equal(s?.retention, "until-verified");
    assert.deepEqual(s?.filters, { ignore_files: [".gitignore"] });
    assert.ok(snapshotProtections(s!, { now: new Date() }).length > 0, "protected while pending");

    const io = fakeIO({ env: cli.env, clock: () => new Date("2026-11-20T12:00:00Z") });
    assert.equal(await runCli(["--json", "change", "verify", made.snapshot_id.slice(0, 10), "--by", "alice"], io), 0, io.err());
    const verified = JSON.parse(io.out());
    assert.deepEqual(verified.change, { status: "verified", ticket: "OPS-7", verified_by: "alice", verified_at: "2026-11-20T12:00:00.000Z" });
    s = (await snapshots()).find((x) => x.id === verified.new_id);
    assert.equal(s?.original, made.snapshot_id);
    assert.deepEqual(snapshotProtections(s!, { now: new Date() }), [], "verified: the policy decides");

    const again = await cli.run(["change", "verify", verified.new_id.slice(0, 10)]);
    assert.equal(again.code, 0);
    assert.match(again.out, /already verified by alice/);

    const retired = await json(["change", "retire", verified.new_id.slice(0, 10)]);
    assert.equal(retired.change.status, "retired");
    const refused = await cli.run(["change", "verify", retired.new_id.slice(0, 10)]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /retired change cannot be verified/);
  });

  it("change verify refuses a snapshot that is not a pre-change one", async () => {
    const id = await cli.backup([proj]);
    const r = await cli.run(["change", "verify", id.slice(0, 10)]);
    assert.equal(r.code, 1);
    assert.match(r.err, /is a manual snapshot, not a pre-change one/);
  });

  it("revision save / list / show; a duplicate name is refused unless --replace", async () => {
    const saved = await json(["revision", "save", "v1", proj, "-m", "first approved state", "--ignore-file", ".gitignore"]);
    assert.equal(saved.name, "v1");
    const dup = await cli.run(["revision", "save", "v1", proj]);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /A revision named "v1" exists already .*--replace/);
    const scratch = await json(["revision", "save", "scratch", proj, "--ignore-file", ".gitignore"]);
    const replaced = await json(["revision", "save", "scratch", proj, "--replace", "--ignore-file", ".gitignore"]);
    assert.equal(replaced.replaced.length, 1);
    const demoted = (await snapshots()).find((s) => s.original === scratch.snapshot_id);
    assert.equal(demoted?.kind, "manual");
    assert.equal(demoted?.retention, undefined);

    const list = await json(["revision", "list"]);
    assert.deepEqual(list.map((r: { name: string }) => r.name), ["v1", "scratch"]);
    const text = await cli.run(["revision", "list"]);
    assert.match(text.out, /v1 .* first approved state/);
    const shown = await json(["revision", "show", "v1"]);
    assert.equal(shown.id, saved.snapshot_id);
    assert.equal(shown.retention, "permanent");
    assert.ok(shown.tags.includes("revision"));
    const showText = await cli.run(["revision", "show", "v1"]);
    assert.match(showText.out, /filters: +--ignore-file \.gitignore/);
    const missing = await cli.run(["revision", "show", "v9"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim().split("\n").length, 1);
    assert.match(missing.err, /no revision named "v9".*coffer revision list/);
  });

  it("rollback: bad references are one sentence; no argument without a terminal is a usage error", async () => {
    const none = await cli.run(["rollback"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /coffer revision list/);
    const unknown = await cli.run(["rollback", "no-such-revision"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^coffer: There is no revision named "no-such-revision"/);
    assert.equal(unknown.err.trim().split("\n").length, 1);
    const noId = await cli.run(["rollback", "fffffffff"]);
    assert.equal(noId.code, 1);
    assert.match(noId.err, /no snapshot whose id starts with it/);
    const ids = (await snapshots()).map((s) => s.id);
    const digit = [...new Set(ids.map((i) => i[0]))].find((d) => ids.filter((i) => i[0] === d).length > 1);
    if (digit) {
      const amb = await cli.run(["rollback", digit as string]);
      assert.equal(amb.code, 1);
      assert.match(amb.err, /matches several snapshots; give more characters/);
    }
  });

  it("rollback --dry-run says what would change; rollback restores, and its safety snapshot gives every change back", async () => {
    write("src/app.ts", "export const version = 2; // the user's edit\n");
    unlinkSync(join(proj, "src/util.ts"));
    write("src/new.ts", "export const fresh = 1;\n");
    const count = (await snapshots()).length;
    const dry = await json(["rollback", "v1", "--dry-run"]);
    assert.deepEqual(
      dry.changes.map((c: { modifier: string; path: string }) => `${c.modifier} ${c.path.slice(proj.length)}`),
      ["M /src/app.ts", "- /src/new.ts", "+ /src/util.ts"],
    );
    assert.equal(dry.safety_id, null);
    assert.equal((await snapshots()).length, count, "a dry run takes no safety snapshot");

    const r = await cli.run(["rollback", "v1"]);
    assert.equal(r.code, 0, r.err);
    const safety = /coffer rollback ([0-9a-f]{8})\s*$/.exec(r.out)?.[1];
    assert.ok(safety, r.out);
    assert.match(r.out, new RegExp(`safety snapshot ${safety} saved`));
    assert.equal(read("src/app.ts"), "export const version = 1;\n");
    assert.ok(!existsSync(join(proj, "src/new.ts")));
    assert.equal(read("node_modules/dep/index.js"), "module.exports = 1;\n", "ignored files are left alone");

    // The user changes files again after that safety snapshot; a second rollback loses none of it.
    write("src/app.ts", "export const version = 3; // after the first rollback\n");
    write("src/later.ts", "later\n");
    const second = await json(["rollback", "v1"]);
    assert.ok(second.safety_id && second.safety_id.slice(0, 8) !== safety);
    assert.equal(second.undo, `coffer rollback ${second.safety_id}`);
    assert.equal(read("src/app.ts"), "export const version = 1;\n");
    const undo = await cli.run(second.undo.split(" ").slice(1));
    assert.equal(undo.code, 0, undo.err);
    assert.equal(read("src/app.ts"), "export const version = 3; // after the first rollback\n");
    assert.equal(read("src/later.ts"), "later\n");
    // And the state from before the first rollback is still there too.
    const first = await cli.run(["rollback", safety as string]);
    assert.equal(first.code, 0, first.err);
    assert.equal(read("src/app.ts"), "export const version = 2; // the user's edit\n");
    assert.equal(read("src/new.ts"), "export const fresh = 1;\n");
    assert.ok(!existsSync(join(proj, "src/later.ts")));
  });

  it("rollback on a terminal without an argument picks the revision from a numbered list", async () => {
    const run = async (answers: string) => {
      const stdin = new PassThrough();
      stdin.end(answers);
      const io = fakeIO({ env: cli.env, clock: () => new Date(), stdinIsTTY: true, stdin: stdin as unknown as NodeJS.ReadStream });
      const code = await runCli(["rollback"], io);
      return { code, out: io.out(), err: io.err() };
    };
    const count = (await snapshots()).length;
    const quit = await run("q\n");
    assert.equal(quit.code, 1);
    assert.match(quit.err, / 1\. scratch .*\n.* 2\. v1 /);
    assert.match(quit.err, /No revision was chosen; nothing was rolled back/);
    assert.equal((await snapshots()).length, count);

    write("src/app.ts", "export const version = 4;\n");
    const picked = await run("7\n2\ny\n");
    assert.equal(picked.code, 0, picked.err);
    assert.match(picked.err, /Enter a number from 1 to 2/);
    assert.match(picked.err, /Roll back .* to revision "v1"/);
    assert.equal(read("src/app.ts"), "export const version = 1;\n");
  });

  it("restore --in-place takes a safety snapshot first unless --no-safety-snapshot", async () => {
    const [v1] = (await json(["revision", "list"])).filter((r: { name: string }) => r.name === "v1");
    write("src/app.ts", "export const version = 5;\n");
    write("src/extra.ts", "extra\n");
    const count = (await snapshots()).length;
    const r = await cli.run(["restore", v1.short_id, "--in-place", "--delete", "--verify"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /safety snapshot [0-9a-f]{8} holds the state from before; to get it back: +coffer rollback [0-9a-f]{8}/);
    assert.equal((await snapshots()).length, count + 1);
    assert.equal(read("src/app.ts"), "export const version = 1;\n");
    assert.ok(!existsSync(join(proj, "src/extra.ts")));
    assert.equal(read("node_modules/dep/index.js"), "module.exports = 1;\n", "--delete keeps what the snapshot's filters exclude");
    const safety = (await snapshots()).at(-1)!;
    assert.equal(safety.kind, "safety");
    assert.deepEqual(safety.paths, [proj]);

    write("src/app.ts", "export const version = 6;\n");
    const bare = await cli.run(["restore", `${v1.short_id}:${proj}/src`, "--in-place", "--no-safety-snapshot"]);
    assert.equal(bare.code, 0, bare.err);
    assert.equal((await snapshots()).length, count + 1);
    assert.equal(read("src/app.ts"), "export const version = 1;\n");
    assert.ok(!existsSync("/app.ts"), "a sub-path is restored onto itself, not into /");

    const both = await cli.run(["restore", v1.short_id, "--in-place", "--target", "/tmp/x"]);
    assert.equal(both.code, 2);
  });
});
