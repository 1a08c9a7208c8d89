import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkConfigText, formatIssue, type CofferConfig } from "../../src/config/index.js";
import { resolveRule } from "../../src/rotate/rule.js";

/** The project's examples/ folder, found upward from the compiled test (dist/ or another outDir). */
function examplesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "examples")) && existsSync(join(dir, "package.json"))) return join(dir, "examples");
    dir = dirname(dir);
  }
  throw new Error("examples/ not found");
}

async function example(name: string): Promise<CofferConfig> {
  const file = join(examplesDir(), name, "coffer.yaml");
  const { config, issues } = checkConfigText(await readFile(file, "utf8"), { file, env: { HOME: "/home/u" } });
  assert.deepEqual(issues.map((i) => formatIssue(i, file)), [], `${name} is valid`);
  assert.ok(config);
  return config;
}

test("examples/app: the seeds' app — user data weekly (30 days or 10 copies), logs daily (7 + 7, 30 days), messages monthly (365 days, archives 90 days)", async () => {
  const c = await example("app");
  const weekly = c.jobs["userdata-weekly"];
  assert.ok(weekly?.what === "backup");
  assert.deepEqual([weekly.source, weekly.schedule.every, weekly.schedule.cron, weekly.prune], ["userdata", "7d", ["0 1 * * *"], true]);
  assert.deepEqual(weekly.policy?.policy, { maxAge: "30d", maxCount: 10 });
  const src = c.sources.userdata;
  assert.ok(src?.kind === "files");
  assert.deepEqual(src.paths.map((p) => p.slice(c.dir.length + 1)), ["data/users", "data/user_index.json", ".env", "requirements.txt"]);

  const logs = c.rotate.find((r) => r.name === "app-logs");
  assert.ok(logs);
  const rule = resolveRule(logs);
  assert.deepEqual(
    [rule.interval, rule.size, rule.minSize, rule.minAge?.text, rule.backupsDir, rule.keep, rule.archiveDir, rule.compress, rule.compressAfter.text, rule.archiveKeep, rule.archiveMaxAge],
    ["daily", 5 * 1024 * 1024, 5 * 1024, "1h", "backups", 7, "archive", "gzip", "7d", 7, "30d"],
  );
  const rotateJob = c.jobs.logs;
  assert.ok(rotateJob?.what === "rotate");
  assert.deepEqual(rotateJob.rules, ["app-logs", "test-logs"]);

  const messages = c.records.messages;
  assert.deepEqual([messages?.olderThan, messages?.archiveMaxAge, messages?.timeField, messages?.archiveDir], ["365d", "90d", "timestamp", "archives"]);
  const monthly = c.jobs["messages-monthly"];
  assert.ok(monthly?.what === "records");
  assert.deepEqual([monthly.records, monthly.schedule.everyDuration?.months], [["messages"], 1]);
});

test("examples/project: hourly snapshots thinned to daily and monthly, revisions untouched, daily check of a seventh, .bak clean-up", async () => {
  const c = await example("project");
  assert.deepEqual(c.jobs.hourly?.schedule.every, "1h");
  const tidy = c.jobs.tidy;
  assert.ok(tidy?.what === "forget");
  assert.deepEqual(tidy.policy.policy, { hourly: 48, daily: 30, monthly: 12 });
  const check = c.jobs.check;
  assert.ok(check?.what === "check");
  assert.equal(check.readDataSubset, "1/7");
  assert.equal(c.jobs["bak-clean"]?.what, "bak-clean");
  assert.equal(c.sources["dev-db"]?.kind, "sqlite");
  assert.deepEqual(c.health.minFreeSpace, { percent: 10 });
});

test("examples/3-2-1: three repositories of two kinds, one off-site; every snapshot copied out; the rule required by health", async () => {
  const c = await example("3-2-1");
  const repos = Object.values(c.repositories);
  assert.equal(repos.length, 3);
  assert.deepEqual(new Set(repos.map((r) => r.backend)), new Set(["local", "s3"]));
  assert.deepEqual(repos.filter((r) => r.offsite).map((r) => r.name), ["offsite"]);
  const copy = c.jobs["copy-out"];
  assert.ok(copy?.what === "copy");
  assert.deepEqual([copy.repository, copy.to], ["local", ["usb", "offsite"]]);
  assert.equal(c.health.requireOffsite, true);
  assert.deepEqual(Object.values(c.sources).map((s) => s.kind), ["files", "sqlite", "command"]);
  // Backups without a repository go to the default one.
  assert.equal(c.jobs["config-daily"]?.what === "backup" ? c.jobs["config-daily"].repository : "", "local");
});
