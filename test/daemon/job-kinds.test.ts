import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backend/local.js";
import { parseConfig } from "../../src/config/load.js";
import type { CofferConfig } from "../../src/config/types.js";
import { isCofferError } from "../../src/core/errors.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import type { DaemonJob, JobOutcome } from "../../src/daemon/daemon-job.js";
import { createJobExecutor, daemonJobs } from "../../src/daemon/job-kinds.js";
import { Repository } from "../../src/repository/repository.js";
import { listSnapshots } from "../../src/snapshot/snapshot-store.js";

/** Every kind of job, run once through the executor the daemon uses, against real files and repositories. */
describe("job kinds", () => {
  let dir: string;
  let config: CofferConfig;
  let jobs: DaemonJob[];
  const logs: string[] = [];
  const open = (name: string) => Repository.open(new LocalBackend(join(dir, name)), { password: "pw" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "coffer-jobkinds-"));
    await writeFile(join(dir, "pw"), "pw\n");
    const main = await Repository.init(new LocalBackend(join(dir, "main")), { password: "pw", kdf: TEST_KDF });
    await (await Repository.init(new LocalBackend(join(dir, "usb")), { password: "pw", kdf: TEST_KDF, paramsFrom: main.config })).close();
    await main.close();
    await mkdir(join(dir, "data"));
    await writeFile(join(dir, "data", "a.txt"), "alpha");
    await mkdir(join(dir, "logs"));
    await writeFile(join(dir, "logs", "app.log"), "x".repeat(10_000) + "\n");
    const old = new Date("2020-01-01T00:00:00Z").toISOString();
    await writeFile(join(dir, "events.ndjson"), `${JSON.stringify({ ts: old, n: 1 })}\n${JSON.stringify({ ts: new Date().toISOString(), n: 2 })}\n`);
    await writeFile(join(dir, "notes.txt.bak.20200101_000000"), "old copy");
    await writeFile(join(dir, "notes.txt.bak.20200102_000000"), "newer copy");
    await writeFile(join(dir, "notes.txt"), "notes");
    const yaml = [
      "repositories:",
      "  main: {url: ./main, password: {file: pw}}",
      "  usb: {url: ./usb, password: {file: pw}}",
      "sources:",
      "  app: {paths: [data]}",
      "policies:",
      "  keep1: {last: 1}",
      "rotate:",
      "  logs: {files: [logs/*.log], size: 1k, min-size: null, min-age: null, interval: null}",
      "records:",
      "  events: {files: [events.ndjson], time-field: ts, older-than: 365d}",
      "jobs:",
      "  backup: {what: backup, source: app, repository: main, every: 1d, tags: [nightly]}",
      "  forget: {what: forget, repository: main, policy: keep1, every: 1d}",
      "  prune: {what: prune, repository: main, every: 7d}",
      "  check: {what: check, repository: main, read-data-subset: 1/2, every: 7d}",
      "  copy: {what: copy, repository: main, to: usb, every: 1d}",
      "  rotate: {what: rotate, every: 1d}",
      "  records: {what: records, every: 30d}",
      "  bak: {what: bak-clean, paths: [.], committed: false, keep: 1, every: 1d}",
      '  hello: {what: command, command: "echo one; echo two >&2", every: 1d}',
      '  fails: {what: command, command: ["/bin/sh", "-c", "echo broken >&2; exit 4"], every: 1d}',
      "",
    ].join("\n");
    config = parseConfig(yaml, { file: join(dir, "coffer.yaml"), env: { HOME: dir } });
    jobs = daemonJobs(config);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const run = async (name: string): Promise<JobOutcome> => {
    const job = jobs.find((j) => j.name === name);
    assert.ok(job, name);
    const execute = createJobExecutor({ config, env: { HOME: dir, PATH: process.env.PATH }, rotateStateFile: join(dir, "rotate-state.json") });
    return execute(job, { signal: new AbortController().signal, attempt: 1, log: (m) => logs.push(`${name}: ${m}`) });
  };

  it("maps jobs to the repositories they use", () => {
    assert.deepEqual(
      Object.fromEntries(jobs.map((j) => [j.name, j.repositories])),
      { backup: ["main"], forget: ["main"], prune: ["main"], check: ["main"], copy: ["main", "usb"], rotate: [], records: [], bak: [], hello: [], fails: [] },
    );
  });

  it("backup: one snapshot of the source, kind scheduled, with the job's tags", async () => {
    const a = await run("backup");
    await writeFile(join(dir, "data", "b.txt"), "beta");
    const b = await run("backup");
    assert.equal(a.status, "success");
    assert.ok((a.bytesAdded ?? 0) > 0);
    assert.match(b.summary ?? "", /^snapshot [0-9a-f]{8}, 1 new, 0 changed, 1 unmodified files/);
    const repo = await open("main");
    const snaps = await listSnapshots(repo);
    await repo.close();
    assert.deepEqual(snaps.map((s) => [s.source, s.kind, s.tags]), [["app", "scheduled", ["nightly"]], ["app", "scheduled", ["nightly"]]]);
  });

  it("copy, forget, prune, check", async () => {
    const c = await run("copy");
    assert.match(c.summary ?? "", /^2 snapshots copied to usb$/);
    const f = await run("forget");
    assert.match(f.summary ?? "", /^1 snapshots forgotten, 1 kept \(keep1\)$/);
    const p = await run("prune");
    assert.equal(p.status, "success");
    const k = await run("check");
    assert.match(k.summary ?? "", /^no problems, data subset 1\/2 read/);
    const usb = await open("usb");
    assert.equal((await listSnapshots(usb)).length, 2);
    await usb.close();
  });

  it("rotate, records, bak-clean", async () => {
    const r = await run("rotate");
    assert.equal(r.summary, "1 of 1 logs rotated");
    assert.ok(readdirSync(join(dir, "logs", "backups")).some((n) => n.startsWith("app.log.")));
    const rec = await run("records");
    assert.match(rec.summary ?? "", /^1 records archived from 1 files/);
    assert.equal((await readFile(join(dir, "events.ndjson"), "utf8")).trim().split("\n").length, 1);
    const bak = await run("bak");
    assert.equal(bak.summary, "1 .bak copies removed");
    assert.ok(!existsSync(join(dir, "notes.txt.bak.20200101_000000")));
    assert.ok(existsSync(join(dir, "notes.txt.bak.20200102_000000")));
  });

  it("command: output to the log; a non-zero exit fails with its last line", async () => {
    const ok = await run("hello");
    assert.equal(ok.status, "success");
    assert.ok(logs.includes("hello: hello: one") && logs.includes("hello: hello: two"), logs.join("\n"));
    await assert.rejects(run("fails"), (e) => isCofferError(e) && /The command of job fails exited with status 4: broken\./.test(e.message));
  });

  it("an aborted attempt stops the command", async () => {
    const job = { ...jobs.find((j) => j.name === "hello")! };
    const cfg: CofferConfig = { ...config, jobs: { ...config.jobs, hello: { ...config.jobs.hello!, command: "sleep 20" } as CofferConfig["jobs"][string] } };
    const execute = createJobExecutor({ config: cfg, env: { PATH: process.env.PATH }, rotateStateFile: join(dir, "rotate-state.json") });
    const ac = new AbortController();
    const t0 = Date.now();
    const p = execute(job, { signal: ac.signal, attempt: 1, log: () => undefined });
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(p, (e) => isCofferError(e, "INTERRUPTED"));
    assert.ok(Date.now() - t0 < 5000);
  });
});
