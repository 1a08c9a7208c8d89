import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createNotifier, jobEvent, redactUrl, type JobEvent } from "../../src/daemon/notify.js";
import { configId, daemonStateDir, emptyState, FileStateStore, stateHome } from "../../src/daemon/state.js";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "coffer-daemon-state-"));
  dirs.push(d);
  return d;
}

const run = { startedAt: "2026-06-01T02:00:00.000Z", finishedAt: "2026-06-01T02:01:00.000Z", durationMs: 60_000, result: "failure" as const, attempts: 3, error: { code: "BACKEND", message: "the server said no" } };

describe("state file", () => {
  it("saves atomically (no temp file left, mode 0600) and loads what it saved", async () => {
    const dir = await tempDir();
    const store = new FileStateStore(join(dir, "state.json"));
    assert.deepEqual(await store.load(), emptyState());
    const s = emptyState("/etc/coffer.yaml");
    s.jobs.nightly = { since: "2026-06-01T00:00:00.000Z", consecutiveFailures: 1, runs: 1, failures: 1, lastRun: run, lastFailure: run };
    await store.save(s);
    await store.save(s);
    assert.deepEqual(await store.load(), s);
    assert.deepEqual(await readdir(dir), ["state.json"]);
    assert.equal((await stat(join(dir, "state.json"))).mode & 0o777, 0o600);
  });

  it("sets an unreadable file aside and starts afresh, with a warning", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "state.json"), '{"version": 1, "jobs": {"a": ');
    const warnings: string[] = [];
    const store = new FileStateStore(join(dir, "state.json"), { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await store.load(), emptyState());
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /could not be read .* moved to .*state\.json\.bad-/);
    assert.ok((await readdir(dir)).some((n) => n.startsWith("state.json.bad-")));
  });

  it("lives under $XDG_STATE_HOME/coffer/<id of the configuration's path>", () => {
    assert.equal(stateHome({ XDG_STATE_HOME: "/x/state", HOME: "/home/u" }), "/x/state/coffer");
    assert.equal(stateHome({ HOME: "/home/u" }), "/home/u/.local/state/coffer");
    assert.equal(stateHome({ XDG_STATE_HOME: "relative", HOME: "/home/u" }), "/home/u/.local/state/coffer");
    assert.equal(configId("/etc/coffer.yaml"), configId("/etc/../etc/coffer.yaml"));
    assert.notEqual(configId("/etc/coffer.yaml"), configId("/srv/coffer.yaml"));
    assert.match(daemonStateDir("/etc/coffer.yaml", { HOME: "/home/u" }), /^\/home\/u\/\.local\/state\/coffer\/[0-9a-f]{16}$/);
  });
});

describe("notifications", () => {
  const failure = jobEvent("failure", { name: "nightly", what: "backup" }, run, { consecutiveFailures: 1, time: new Date("2026-06-01T02:01:00Z"), config: "/etc/coffer.yaml" });

  async function server(statuses: number[]): Promise<{ url: string; bodies: JobEvent[]; headers: IncomingMessage["headers"][]; close: () => Promise<void> }> {
    const bodies: JobEvent[] = [];
    const headers: IncomingMessage["headers"][] = [];
    const srv = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        bodies.push(JSON.parse(body) as JobEvent);
        headers.push(req.headers);
        res.statusCode = statuses[bodies.length - 1] ?? 200;
        res.end("x");
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const { port } = srv.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/hook/SECRET`, bodies, headers, close: () => new Promise((r) => srv.close(() => r())) };
  }

  it("POSTs the event as JSON to a webhook, retrying after server errors", async () => {
    const s = await server([500, 503, 200]);
    const logs: string[] = [];
    const notify = createNotifier({ webhooks: [{ url: s.url, headers: { authorization: "Bearer t" }, retries: 3 }], commands: [], onSuccess: false }, { webhookRetryDelayMs: 5, log: (l, m) => logs.push(`${l} ${m}`) });
    await notify(failure);
    await s.close();
    assert.equal(s.bodies.length, 3);
    assert.equal(s.bodies[2]?.event, "failure");
    assert.equal(s.bodies[2]?.job, "nightly");
    assert.equal(s.bodies[2]?.run.error?.message, "the server said no");
    assert.match(s.bodies[2]?.text ?? "", /job nightly \(backup\) failed after 3 attempts: the server said no/);
    assert.equal(s.headers[0]?.["content-type"], "application/json");
    assert.equal(s.headers[0]?.authorization, "Bearer t");
    assert.ok(logs.some((l) => l.startsWith("info notified http://127.0.0.1:")));
    assert.ok(!logs.join("\n").includes("SECRET"), "the URL's path (a token, often) is not logged");
  });

  it("gives up after its retries, and at once on a client error, logging a warning", async () => {
    const s = await server([500, 500, 500]);
    const c = await server([404]);
    const logs: string[] = [];
    const notify = createNotifier({ webhooks: [{ url: s.url, retries: 2 }, { url: c.url, retries: 5 }], commands: [], onSuccess: false }, { webhookRetryDelayMs: 5, log: (l, m) => logs.push(`${l} ${m}`) });
    await notify(failure);
    await s.close();
    await c.close();
    assert.equal(s.bodies.length, 3);
    assert.equal(c.bodies.length, 1);
    assert.equal(logs.filter((l) => l.startsWith("warn could not notify")).length, 2);
    assert.ok(logs.some((l) => /HTTP 500 \(after 3 attempts\)/.test(l)));
  });

  it("runs a command with the event as JSON on stdin; success events only when asked", async () => {
    const dir = await tempDir();
    const out = join(dir, "events");
    const logs: string[] = [];
    const cmd = `cat >> '${out}'; echo "$COFFER_EVENT $COFFER_JOB" >> '${out}.env'`;
    const quiet = createNotifier({ webhooks: [], commands: [cmd], onSuccess: false }, { log: (l, m) => logs.push(`${l} ${m}`) });
    const ok = { ...run, result: "success" as const, attempts: 1 };
    await quiet(jobEvent("success", { name: "nightly", what: "backup" }, ok, { consecutiveFailures: 0, time: new Date() }));
    await quiet(failure);
    await quiet(jobEvent("recovery", { name: "nightly", what: "backup" }, ok, { consecutiveFailures: 3, time: new Date() }));
    const lines = (await readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as JobEvent);
    assert.deepEqual(
      lines.map((e) => e.event),
      ["failure", "recovery"],
    );
    assert.equal(await readFile(`${out}.env`, "utf8"), "failure nightly\nrecovery nightly\n");
    const loud = createNotifier({ webhooks: [], commands: [["/bin/sh", "-c", `cat >> '${out}'`]], onSuccess: true });
    await loud(jobEvent("success", { name: "nightly", what: "backup" }, ok, { consecutiveFailures: 0, time: new Date() }));
    assert.equal((await readFile(out, "utf8")).trim().split("\n").length, 3);
  });

  it("a failing command is logged, not thrown", async () => {
    const logs: string[] = [];
    const notify = createNotifier({ webhooks: [], commands: ["echo nope >&2; exit 3"], onSuccess: false }, { log: (l, m) => logs.push(`${l} ${m}`) });
    await notify(failure);
    assert.match(logs.join("\n"), /warn notify command "echo nope >&2; exit 3" failed .*exit code 3: nope/);
  });

  it("redacts webhook URLs to their host", () => {
    assert.equal(redactUrl("https://hooks.example.com/services/T000/B000/XXXX"), "https://hooks.example.com/…");
    assert.equal(redactUrl("not a url"), "(webhook)");
  });
});
