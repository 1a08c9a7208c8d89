import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkConfigText, configIssues, findConfigFile, formatIssue, loadConfig, parseConfig, type ConfigIssue } from "../../src/config/index.js";
import { isCofferError } from "../../src/core/errors.js";

/** The issues of `text`, formatted as the CLI prints them. */
function problems(text: string): string[] {
  const { issues } = checkConfigText(text, { file: "coffer.yaml", dir: "/srv/app", env: { HOME: "/home/u" } });
  return issues.map((i) => formatIssue(i, "coffer.yaml"));
}

test("the issue's own example: jobs.weekly.every: '7 days' is not a duration; use 7d — with its line and column", () => {
  const out = problems("jobs:\n  weekly:\n    what: rotate\n    every: 7 days\nrotate:\n  - files: [a.log]\n");
  assert.deepEqual(out, ['coffer.yaml:4:12: jobs.weekly.every: "7 days" is not a duration; use 7d.']);
});

test("every problem of shape and value is reported at once, each with path, what was expected and a hint", () => {
  const out = problems(
    [
      "repositories:",
      "  local:",
      "    url: ./repo",
      "    password:",
      "      fil: ~/pw",
      "    offsite: yes",
      "sources:",
      "  app:",
      "    paths: [data]",
      "    exclde: ['*.tmp']",
      "policies:",
      "  p:",
      "    daily: 1.5",
      "    max-age: 30 days",
      "jobs:",
      "  j:",
      "    what: backpu",
      "    at: '25:00'",
      "    cron: '0 2 * *'",
      "    timeout: 30m",
      "    retries: '3'",
    ].join("\n"),
  );
  const expected = [
    "coffer.yaml:4:5: repositories.local.password: no password source is given; write one of env: VAR, file: PATH or command: CMD.",
    'coffer.yaml:5:7: repositories.local.password.fil: unknown setting "fil"; did you mean file?',
    'coffer.yaml:6:14: repositories.local.offsite: expected true or false, not "yes"; write true.',
    'coffer.yaml:10:5: sources.app.exclde: unknown setting "exclde"; did you mean exclude?',
    "coffer.yaml:13:12: policies.p.daily: expected a whole number, not 1.5; use a whole number such as 2.",
    'coffer.yaml:14:14: policies.p.max-age: "30 days" is not a duration; use 30d.',
    'coffer.yaml:17:11: jobs.j.what: "backpu" is not one of backup, forget, prune, check, rotate, records, bak-clean, copy, command; did you mean backup?',
    'coffer.yaml:18:9: jobs.j.at: "25:00" is not a time of day; use HH:MM on a 24-hour clock, e.g. "02:00".',
    'coffer.yaml:19:11: jobs.j.cron: "0 2 * *" is not a cron expression: it has 4 fields; write 5 (minute hour day month weekday), e.g. "0 2 * * *" for 02:00 every day.',
    'coffer.yaml:20:14: jobs.j.timeout: "30m" is not a time span; write minutes as 30min (m means months in coffer durations).',
    'coffer.yaml:21:14: jobs.j.retries: expected a whole number, not "3"; write it without quotes: 3.',
  ];
  assert.deepEqual(out, expected);
});

test("names and references: unknown source, repository (with did-you-mean), settings of another kind, no schedule", () => {
  const out = problems(
    [
      "repositories:",
      "  local: {url: /r}",
      "  offsite: {url: 's3:https://h/b', offsite: true}",
      "sources:",
      "  app: {paths: [data]}",
      "  db: {kind: files, databases: [a.db]}",
      "  dump: {command: pg_dump x}",
      "policies:",
      "  empty: {}",
      "jobs:",
      "  b: {what: backup, source: ap, every: 1d}",
      "  c: {what: copy, repository: local, to: [ofsite], every: 1d}",
      "  f: {what: forget, policy: weekly, every: 7d}",
      "  p: {what: prune, read-data: true}",
    ].join("\n"),
  );
  assert.deepEqual(out, [
    "coffer.yaml:6:3: sources.db: a files source needs at least one path; add paths: [data] (relative to the configuration's folder).",
    "coffer.yaml:6:21: sources.db.databases: databases is not a setting of a files source; it belongs to sqlite sources.",
    "coffer.yaml:7:3: sources.dump: a command source needs a filename; add filename: mydb.sql, the name its output is stored under.",
    "coffer.yaml:9:3: policies.empty: this policy decides nothing; add a keep rule (daily: 7, within: 30d) or a limit (max-age: 30d, max-count: 10).",
    "coffer.yaml:11:3: jobs.b: a backup job needs a repository; add repository: with one of local, offsite.",
    'coffer.yaml:11:29: jobs.b.source: there is no source named "ap"; did you mean app? (sources: app, db, dump).',
    'coffer.yaml:12:43: jobs.c.to[0]: there is no repository named "ofsite"; did you mean offsite? (repositories: local, offsite).',
    "coffer.yaml:13:3: jobs.f: a forget job needs a repository; add repository: with one of local, offsite.",
    'coffer.yaml:13:29: jobs.f.policy: there is no policy named "weekly"; use one of empty.',
    'coffer.yaml:14:3: jobs.p: this job has no schedule; add every: 7d (after the last success), at: "02:00" (daily) or cron: "0 2 * * 1" (with time-zone).',
    "coffer.yaml:14:3: jobs.p: a prune job needs a repository; add repository: with one of local, offsite.",
    "coffer.yaml:14:31: jobs.p.read-data: a prune job has no setting read-data; read-data is for check jobs; a prune job takes repository, max-unused.",
  ]);
});

test("defaults, absolute paths, inferred kinds, the default repository and schedules from every/at/cron", () => {
  const c = parseConfig(
    [
      "repositories:",
      "  local: {url: backups/repo, password: {file: ~/pw}}",
      "sources:",
      "  app: {paths: [data, /etc/app], exclude: ['*.tmp'], exclude-larger-than: 1G, exclude-file: [ex.txt]}",
      "  db: {databases: [data/app.db], paths: data}",
      "  dump: {command: [pg_dump, mydb], filename: mydb.sql}",
      "policies:",
      "  monthly: {monthly: 12, max-age: 1y}",
      "jobs:",
      "  weekly: {what: backup, source: app, every: 7d, at: '01:00', time-zone: Europe/Berlin, policy: {max-age: 30d, max-count: 10}}",
      "  nightly: {what: backup, source: db, cron: '30 2 * * *', retries: 5, retry-delay: 30s, timeout: 1h30min}",
      "  tidy: {what: forget, policy: monthly, every: 1m, prune: true}",
    ].join("\n"),
    { file: "/srv/app/coffer.yaml", env: { HOME: "/home/u" } },
  );
  assert.equal(c.dir, "/srv/app");
  assert.deepEqual(c.repositories.local, { name: "local", url: "/srv/app/backups/repo", backend: "local", password: { file: "/home/u/pw" }, offsite: false, isDefault: true });
  assert.equal(c.defaultRepository, "local");
  const app = c.sources.app;
  assert.ok(app?.kind === "files");
  assert.deepEqual(app.paths, ["/srv/app/data", "/etc/app"]);
  assert.deepEqual(app.filters, { excludes: ["*.tmp"], iexcludes: [], excludeFiles: ["/srv/app/ex.txt"], ignoreFiles: [], excludeLargerThan: 1024 ** 3 });
  const db = c.sources.db;
  assert.ok(db?.kind === "sqlite");
  assert.deepEqual([db.databases, db.paths, db.integrityCheck], [["/srv/app/data/app.db"], ["/srv/app/data"], "quick"]);
  const dump = c.sources.dump;
  assert.ok(dump?.kind === "command");
  assert.deepEqual([dump.command, dump.filename, dump.cwd], [["pg_dump", "mydb"], "mydb.sql", "/srv/app"]);
  const weekly = c.jobs.weekly;
  assert.ok(weekly?.what === "backup");
  assert.equal(weekly.repository, "local");
  assert.deepEqual(weekly.policy, { name: "jobs.weekly.policy", policy: { maxAge: "30d", maxCount: 10 } });
  assert.deepEqual({ ...weekly.schedule, everyDuration: undefined }, { every: "7d", everyDuration: undefined, cron: ["0 1 * * *"], timeZone: "Europe/Berlin", text: "every 7d at 01:00 (Europe/Berlin)" });
  assert.deepEqual([weekly.retries, weekly.retryDelayMs, weekly.timeoutMs, weekly.enabled], [2, 60_000, undefined, true]);
  const nightly = c.jobs.nightly;
  assert.deepEqual([nightly?.schedule.cron, nightly?.retries, nightly?.retryDelayMs, nightly?.timeoutMs], [["30 2 * * *"], 5, 30_000, 5_400_000]);
  const tidy = c.jobs.tidy;
  assert.ok(tidy?.what === "forget");
  assert.deepEqual([tidy.policy.name, tidy.policy.policy, tidy.prune, tidy.schedule.everyDuration?.months], ["monthly", { monthly: 12, maxAge: "1y" }, true, 1]);
  assert.deepEqual(c.health, { port: 9312, lateFactor: 1.5, criticalFactor: 3, pendingMaxAge: "7d", minFreeSpace: { bytes: 1024 ** 3 }, requireOffsite: false });
  assert.deepEqual(c.notify, { webhooks: [], commands: [], onSuccess: false });
});

test("YAML mistakes name their line: bad indentation, a duplicate key, a tab; a list or scalar at the top", () => {
  assert.match(problems("jobs:\n  a: {what: prune}\n  a: {what: check}\n")[0] ?? "", /^coffer\.yaml:3:3: the YAML cannot be read: .*; each setting may appear once/);
  assert.match(problems("sources:\n\tapp: {}\n")[0] ?? "", /^coffer\.yaml:2:\d+: the YAML cannot be read/);
  assert.deepEqual(problems("- a\n- b\n"), ["coffer.yaml:1:1: the file must hold settings (key: value), not a single value or a list; start with a section such as repositories: or sources:."]);
  assert.deepEqual(problems(""), []);
  assert.deepEqual(problems("# only a comment\n"), []);
});

test("an old rotate rules file in JSON loads as it is, paths from its folder; rule problems use kebab-case names", () => {
  const c = parseConfig(JSON.stringify({ rotate: [{ files: ["logs/*.log"], size: "1k", "compress-after": "0h", "backups-dir": "old" }] }), { file: "/srv/app/rotate.json" });
  assert.deepEqual(c.rotate, [{ name: "rotate[0]", files: ["/srv/app/logs/*.log"], size: "1k", compressAfter: "0h", backupsDir: "old" }]);
  const out = problems("rotate:\n  app:\n    files: a.log\n    compress: zstd\n    compress-level: 22\n");
  assert.deepEqual(out, ["coffer.yaml:5:21: rotate.app.compress-level: 22 is too big; use at most 19."]);
  const bad = problems('rotate:\n  - files: a.log\n    keep-forever: true\n');
  assert.match(bad[0] ?? "", /^coffer\.yaml:3:5: rotate\[0\]\.keep-forever: unknown setting "keep-forever"; known settings here: name, files, size/);
});

test("loadConfig finds ./coffer.yaml first, then $XDG_CONFIG_HOME/coffer/coffer.yaml; --config must exist; errors carry the issues", async () => {
  const dir = await mkdtemp(join(tmpdir(), "coffer-config-"));
  try {
    const cwd = join(dir, "project");
    const xdg = join(dir, "xdg");
    await mkdir(join(xdg, "coffer"), { recursive: true });
    await mkdir(cwd);
    const env = { HOME: join(dir, "home"), XDG_CONFIG_HOME: xdg };
    await writeFile(join(xdg, "coffer", "coffer.yaml"), "repositories:\n  home: {url: /h}\n");
    assert.equal(findConfigFile({ cwd, env }), join(xdg, "coffer", "coffer.yaml"));
    assert.deepEqual(Object.keys((await loadConfig({ cwd, env })).repositories), ["home"]);
    await writeFile(join(cwd, "coffer.yaml"), "repositories:\n  here: {url: ./r}\n");
    const here = await loadConfig({ cwd, env });
    assert.deepEqual([Object.keys(here.repositories), here.repositories.here?.url, here.file], [["here"], join(cwd, "r"), join(cwd, "coffer.yaml")]);
    await assert.rejects(loadConfig({ cwd, env, file: "nope.yaml" }), (e) => isCofferError(e, "NOT_FOUND") && e.message.includes(join(cwd, "nope.yaml")) && e.message.includes("--config"));
    await assert.rejects(loadConfig({ cwd: join(dir, "home"), env: { HOME: join(dir, "home") } }), (e) => isCofferError(e, "NOT_FOUND") && /coffer config init/.test(e.message));
    await writeFile(join(cwd, "bad.yaml"), "jobs:\n  weekly: {what: prune, every: 7 days, retries: many}\n");
    await assert.rejects(loadConfig({ cwd, env, file: "bad.yaml" }), (e) => {
      const issues: ConfigIssue[] = configIssues(e);
      return isCofferError(e, "INVALID") && issues.length === 2 && e.message.startsWith(`${join(cwd, "bad.yaml")} has 2 problems:\n  ${join(cwd, "bad.yaml")}:2:32: jobs.weekly.every:`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
