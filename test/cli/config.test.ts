import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { runCli } from "../../src/cli/main.js";
import { checkConfigText } from "../../src/config/index.js";
import { fakeIO } from "./fake-io.js";

type Run = { code: number; out: string; err: string };

async function cli(argv: string[], env: Record<string, string>, stdin?: PassThrough): Promise<Run> {
  const io = fakeIO({ env, ...(stdin ? { stdin: stdin as unknown as NodeJS.ReadStream, stdinIsTTY: true } : {}) });
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

async function temp(): Promise<{ dir: string; env: Record<string, string>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-cfgcli-"));
  const env = { HOME: join(dir, "home"), COFFER_TEST_KDF: "1" };
  return { dir, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("config init (no terminal): a commented starter that validates, a password file (0600), the next steps; no overwrite without --force", async () => {
  const { dir, env, cleanup } = await temp();
  try {
    const app = join(dir, "my app");
    await mkdir(join(app, "node_modules"), { recursive: true });
    await writeFile(join(app, ".gitignore"), "dist\n");
    const r = await cli(["config", "init", app, "--every", "7d", "--at", "01:00"], env);
    assert.equal(r.code, 0, r.err);
    const file = join(app, "coffer.yaml");
    assert.match(r.out, new RegExp(`^wrote ${file}\\nnext:\\n  coffer -r local init +# create the repository\\n  coffer backup --source my-app +# a first snapshot`));
    const text = await readFile(file, "utf8");
    assert.match(text, /^# coffer\.yaml for /);
    assert.match(text, /^ {4}exclude:\n {6}- node_modules$/m);
    assert.match(text, /^ {4}ignore-file: \[\.gitignore\]$/m);
    assert.match(text, /^ {4}every: 7d\n {4}at: "01:00"$/m);
    const { config, issues } = checkConfigText(text, { file, env });
    assert.deepEqual(issues, []);
    assert.equal(config?.repositories.local?.url, join(dir, "home/.local/share/coffer/my-app"));
    const pw = join(dir, "home/.config/coffer/my-app.password");
    assert.equal((await stat(pw)).mode & 0o777, 0o600);
    assert.match(r.err, /created a password for the repository in .*my-app\.password; keep a copy/);

    const again = await cli(["config", "init", app], env);
    assert.equal(again.code, 1);
    assert.match(again.err, /coffer\.yaml already exists; check it with "coffer config validate", or replace it with --force/);
    const forced = await cli(["--password-command", "pass show app", "-r", "s3:https://s3.example.com/b/app", "config", "init", app, "--force", "--no-detect"], env);
    assert.equal(forced.code, 0, forced.err);
    const text2 = await readFile(file, "utf8");
    assert.match(text2, /^ {2}s3:\n {4}url: "s3:https:\/\/s3\.example\.com\/b\/app"\n/m);
    assert.match(text2, /^ {6}command: pass show app$/m);
    assert.doesNotMatch(text2, /^ {4}exclude:/m, "--no-detect: nothing found, nothing excluded");

    const printed = await cli(["config", "init", app, "--print", "--password-env", "APP_PW", "--keep-daily", "3"], env);
    assert.equal(printed.code, 0, printed.err);
    assert.match(printed.out, /^ {6}env: APP_PW$/m);
    assert.match(printed.out, /^ {4}daily: 3$/m);
    assert.equal(await readFile(file, "utf8"), text2, "--print writes nothing");
    const bad = await cli(["config", "init", app, "--print", "--every", "7 days"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /"7 days" is not a duration; use 7d/);
  } finally {
    await cleanup();
  }
});

test("config init on a terminal asks, offering the defaults and the SQLite databases it found", async () => {
  const { dir, env, cleanup } = await temp();
  try {
    const app = join(dir, "app");
    await mkdir(join(app, "data"), { recursive: true });
    const db = Buffer.alloc(4096);
    db.write("SQLite format 3\0", "latin1");
    await writeFile(join(app, "data", "app.db"), db);
    await writeFile(join(app, "data", "not-a.db"), "text");
    const stdin = new PassThrough();
    // paths, repository, password kind, its variable, every, sqlite yes
    stdin.end("data, config.json\n/mnt/backup/app\nenv\nAPP_PASSWORD\n7 days\n7d\n\n");
    const r = await cli(["config", "init", app], env, stdin);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /What to back up \(paths relative to the folder, comma-separated\) \[\.\]: /);
    assert.match(r.err, /"7 days" is not a duration; use 7d/);
    assert.match(r.err, /Found SQLite database data\/app\.db; copy them consistently as a sqlite source \(y\/n\) \[y\]: /);
    const text = await readFile(join(app, "coffer.yaml"), "utf8");
    const { config, issues } = checkConfigText(text, { file: join(app, "coffer.yaml"), env });
    assert.deepEqual(issues, []);
    const src = config?.sources.app;
    assert.ok(src?.kind === "sqlite");
    assert.deepEqual([src.paths, src.databases], [[join(app, "data"), join(app, "config.json")], [join(app, "data/app.db")]]);
    assert.deepEqual(config?.repositories.local?.password, { env: "APP_PASSWORD" });
    assert.equal(config?.repositories.local?.url, "/mnt/backup/app");
    assert.equal(config?.jobs.backup?.schedule.every, "7d");
  } finally {
    await cleanup();
  }
});

test("config validate: every problem with its line and a hint, exit 1; --json lists them; warnings for what a run will need", async () => {
  const { dir, env, cleanup } = await temp();
  try {
    const file = join(dir, "coffer.yaml");
    await writeFile(file, "jobs:\n  weekly:\n    what: backup\n    every: 7 days\n    retries: -1\n");
    const r = await cli(["config", "validate", file], env);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      `coffer: ${file} has 2 problems:\n  ${file}:4:12: jobs.weekly.every: "7 days" is not a duration; use 7d.\n  ${file}:5:14: jobs.weekly.retries: -1 is too small; use 0 or more.\n`,
    );
    const j = await cli(["--json", "--config", file, "config", "validate"], env);
    assert.equal(j.code, 1);
    const doc = JSON.parse(j.out) as { valid: boolean; issues: { path: string[]; line: number; message: string; hint?: string }[] };
    assert.equal(doc.valid, false);
    assert.deepEqual(doc.issues[0], { path: ["jobs", "weekly", "every"], message: '"7 days" is not a duration', hint: "use 7d", line: 4, column: 12 });

    await writeFile(file, "repositories:\n  local:\n    url: ./repo\n    password: {env: APP_PW}\nsources:\n  app: {paths: [missing]}\n");
    const ok = await cli(["config", "validate", file], env);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, `${file} is valid: 1 repository, 1 source, 0 policies, 0 jobs, 0 rotate rules, 0 records entries\n`);
    assert.match(ok.err, new RegExp(`warning: ${file}:3:10: repositories\\.local\\.url: there is no repository at ${join(dir, "repo")} yet; create it with: coffer -r local init\\.`));
    assert.match(ok.err, /warning: .*:4:21: repositories\.local\.password\.env: the environment variable APP_PW is not set here/);
    assert.match(ok.err, /warning: .*:6:17: sources\.app\.paths\[0\]: .*missing does not exist/);
    const none = await cli(["config", "validate", join(dir, "nope.yaml")], env);
    assert.equal(none.code, 1);
    assert.match(none.err, /nope\.yaml does not exist/);
  } finally {
    await cleanup();
  }
});

test("config show: resolved and masked — a written password, webhook headers and URL passwords never appear; config schema is JSON Schema", async () => {
  const { dir, env, cleanup } = await temp();
  try {
    const file = join(dir, "coffer.yaml");
    await writeFile(
      file,
      [
        "repositories:",
        "  local: {url: ./repo, password: {value: hunter2-secret}}",
        "  remote: {url: 'rest:https://user:rest-secret@backup.example.com/repo', password: {command: pass show x}, offsite: true}",
        "sources:",
        "  dump: {command: pg_dump app, filename: app.sql, env: {PGPASSWORD: pg-secret, PGHOST: db}}",
        "notify:",
        "  webhook: {url: 'https://hooks.example.com/x?token=tok-secret&room=ops', headers: {Authorization: Bearer hdr-secret}}",
      ].join("\n"),
    );
    for (const argv of [["--config", file, "config", "show"], ["--config", file, "--json", "config", "show"]]) {
      const r = await cli(argv, env);
      assert.equal(r.code, 0, r.err);
      for (const secret of ["hunter2-secret", "rest-secret", "pg-secret", "tok-secret", "hdr-secret"]) assert.ok(!r.out.includes(secret), `${secret} is masked`);
      assert.match(r.out, /\*\*\*\*\*\*\*\*/);
      assert.match(r.out, /PGHOST"?: ?"?db/);
      assert.match(r.out, /pass show x/);
    }
    const y = await cli(["--config", file, "config", "show"], env);
    assert.match(y.out, /^# .*coffer\.yaml, resolved/);
    assert.match(y.out, /^ {4}password-from: written in the configuration$/m);
    assert.match(y.out, /^ {2}late-factor: 1\.5$/m);
    const s = await cli(["config", "schema"], env);
    const schema = JSON.parse(s.out) as { $schema: string; properties: Record<string, { additionalProperties?: { properties?: Record<string, unknown> } }> };
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.deepEqual(Object.keys(schema.properties), ["$schema", "version", "repositories", "sources", "policies", "jobs", "rotate", "records", "notify", "health"]);
    assert.ok(schema.properties.jobs?.additionalProperties?.properties?.every);
  } finally {
    await cleanup();
  }
});

test("-r NAME uses a configured repository's url and password source; without -r the configuration's default; a bare name it lacks is a path; backup --source", async () => {
  const { dir, env, cleanup } = await temp();
  try {
    const file = join(dir, "coffer.yaml");
    await mkdir(join(dir, "data"));
    await writeFile(join(dir, "data", "a.txt"), "a\n");
    await writeFile(join(dir, "pw"), "file-password\n");
    await writeFile(
      file,
      [
        "repositories:",
        "  main: {url: ./main-repo, password: {file: pw}, default: true}",
        "  other: {url: ./other-repo, password: {env: OTHER_PW}}",
        "sources:",
        "  app: {paths: [data], tags: [app]}",
      ].join("\n"),
    );
    const e = { ...env, OTHER_PW: "env-password" };
    const init = await cli(["--config", file, "-r", "other", "init"], e);
    assert.equal(init.code, 0, init.err);
    assert.match(init.err + init.out, new RegExp(`created coffer repository \\w+ at ${join(dir, "other-repo")}`));
    const init2 = await cli(["--config", file, "init"], e);
    assert.equal(init2.code, 0, init2.err);
    assert.match(init2.err + init2.out, new RegExp(`at ${join(dir, "main-repo")}`));

    const b = await cli(["--config", file, "--json", "backup", "--source", "app", "--tag", "manual"], e);
    assert.equal(b.code, 0, b.err);
    const doc = JSON.parse(b.out) as { snapshot_id: string; source: string; staged: unknown[] };
    assert.equal(doc.source, "app");
    const list = await cli(["--config", file, "--json", "snapshots"], e);
    const snaps = JSON.parse(list.out) as { id: string; source?: string; tags: string[]; paths: string[] }[];
    assert.deepEqual(snaps.map((s) => [s.source, s.tags, s.paths]), [["app", ["app", "manual"], [join(dir, "data")]]]);
    const other = await cli(["--config", file, "-r", "other", "--json", "snapshots"], e);
    assert.deepEqual(JSON.parse(other.out), []);
    const wrong = await cli(["--config", file, "-r", "other", "snapshots"], { ...env, OTHER_PW: "nope" });
    assert.equal(wrong.code, 12);
    const unset = await cli(["--config", file, "-r", "other", "snapshots"], env);
    assert.equal(unset.code, 1);
    assert.match(unset.err, /repository other comes from the environment variable OTHER_PW, which is not set/);
    // A flag still wins over the configured source.
    const flag = await cli(["--config", file, "-r", "other", "--password-file", join(dir, "pw"), "snapshots"], e);
    assert.equal(flag.code, 12);
    const path = await cli(["--config", file, "-r", "elsewhere", "snapshots"], { ...e, COFFER_PASSWORD: "x" });
    assert.equal(path.code, 10);
    assert.match(path.err, /elsewhere/);

    const both = await cli(["--config", file, "backup", "--source", "app", join(dir, "data")], e);
    assert.equal(both.code, 2);
    const missing = await cli(["--config", file, "backup", "--source", "ap"], e);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /has no source named ap; its sources are app/);
  } finally {
    await cleanup();
  }
});
