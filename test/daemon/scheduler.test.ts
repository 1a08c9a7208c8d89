import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import type { DaemonJob, JobExecutor } from "../../src/daemon/daemon-job.js";
import { memoryLog } from "../../src/daemon/log.js";
import type { JobEvent } from "../../src/daemon/notify.js";
import { ResourceQueue } from "../../src/daemon/resource-queue.js";
import { Scheduler } from "../../src/daemon/scheduler.js";
import { emptyState, MemoryStateStore } from "../../src/daemon/state.js";
import { parseDuration } from "../../src/retention/index.js";
import { VirtualClock } from "./virtual-clock.js";

const MIN = 60_000;
const H = 60 * MIN;

function job(name: string, over: Partial<DaemonJob> & { every?: string; cron?: string[] } = {}): DaemonJob {
  const { every, cron, ...rest } = over;
  return {
    name,
    what: "backup",
    enabled: true,
    schedule: { ...(every !== undefined ? { everyDuration: parseDuration(every) } : {}), cron: cron ?? [], timeZone: "UTC" },
    retries: 0,
    retryDelayMs: MIN,
    repositories: ["main"],
    ...rest,
  };
}

interface Ran {
  job: string;
  start: number;
  end: number;
  attempt: number;
  ok: boolean;
}

/**
 * A scheduler over fake jobs: each attempt takes `durations[job]` of virtual time and fails
 * when `fails(job, attempt, n)` says so (n counts the job's attempts from 0).
 */
function harness(
  jobs: DaemonJob[],
  opts: { start: string; durations?: Record<string, number>; fails?: (job: string, attempt: number, n: number) => boolean; store?: MemoryStateStore; afterFailureMs?: number },
) {
  const clock = new VirtualClock(new Date(opts.start));
  const ran: Ran[] = [];
  const events: JobEvent[] = [];
  const counts = new Map<string, number>();
  const log = memoryLog();
  const store = opts.store ?? new MemoryStateStore();
  const execute: JobExecutor = async (j, ctx) => {
    const n = counts.get(j.name) ?? 0;
    counts.set(j.name, n + 1);
    const r: Ran = { job: j.name, start: clock.now().getTime(), end: NaN, attempt: ctx.attempt, ok: false };
    ran.push(r);
    await clock.sleep(opts.durations?.[j.name] ?? MIN, ctx.signal);
    r.end = clock.now().getTime();
    if (ctx.signal.aborted) throw new CofferError("INTERRUPTED", "stopped");
    if (opts.fails?.(j.name, ctx.attempt, n)) throw new CofferError("BACKEND", `${j.name} failed (attempt ${ctx.attempt})`);
    r.ok = true;
    return { status: "success", summary: `${j.name} ok`, bytesAdded: 100 };
  };
  return {
    clock,
    ran,
    /** Failures and recoveries (successes are left out). */
    get events() {
      return events.filter((e) => e.event !== "success");
    },
    allEvents: events,
    log,
    store,
    async runFor(until: string) {
      const scheduler = await Scheduler.open({
        jobs,
        execute,
        store,
        clock,
        log,
        notify: async (e) => void events.push(e),
        maxSleepMs: 6 * H,
        ...(opts.afterFailureMs !== undefined ? { afterFailureMs: opts.afterFailureMs } : {}),
      });
      const stop = new AbortController();
      const running = scheduler.run(stop.signal);
      await clock.runUntil(new Date(until));
      stop.abort();
      await running;
      return scheduler;
    },
  };
}

const overlaps = (a: Ran, b: Ran): boolean => a.start < b.end && b.start < a.end;

describe("scheduler", () => {
  it("runs a week of schedules in moments, with catch-up, queues and calendars right", async () => {
    // Listed last, the hourly backup is the one that waits when others are due at the same time.
    const jobs = [
      job("nightly", { cron: ["0 2 * * *"] }),
      job("weekly", { every: "7d", cron: ["0 1 * * *"] }),
      job("check", { what: "check", every: "7d", cron: ["0 3 * * *"] }),
      job("logs", { what: "rotate", cron: ["0 0 * * *"], repositories: [] }),
      job("monthly", { what: "records", cron: ["0 5 1 * *"], repositories: [] }),
      job("hourly", { cron: ["0 * * * *"] }),
    ];
    // The store says: weekly backup last ran 20 days ago (downtime), nightly ran yesterday.
    const state = emptyState();
    const old = { startedAt: "2026-05-12T01:00:00.000Z", finishedAt: "2026-05-12T01:10:00.000Z", durationMs: 600_000, result: "success" as const, attempts: 1 };
    state.jobs.weekly = { since: "2026-01-01T00:00:00.000Z", consecutiveFailures: 0, runs: 1, failures: 0, lastRun: old, lastSuccess: old };
    const h = harness(jobs, { start: "2026-05-31T23:30:00Z", durations: { hourly: 5 * MIN, nightly: 20 * MIN, weekly: 45 * MIN, check: 2 * H, logs: MIN }, store: new MemoryStateStore(state) });
    const cpu0 = process.cpuUsage();
    const s = await h.runFor("2026-06-07T23:59:00Z");
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.ok(cpuMs < 5000, `a simulated week took ${Math.round(cpuMs)} ms of CPU`);

    const starts = (name: string): string[] => h.ran.filter((r) => r.job === name).map((r) => new Date(r.start).toISOString());
    assert.equal(h.ran.filter((r) => r.job === "nightly").length, 7);
    assert.deepEqual(starts("logs"), ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05", "2026-06-06", "2026-06-07"].map((d) => `${d}T00:00:00.000Z`));
    // Twenty days without a weekly backup: one run at once (not three), then a week later at 01:00.
    assert.deepEqual(starts("weekly"), ["2026-05-31T23:30:00.000Z", "2026-06-07T01:00:00.000Z"]);
    assert.deepEqual(starts("check"), ["2026-06-01T03:00:00.000Z"]);
    assert.deepEqual(starts("monthly"), ["2026-06-01T05:00:00.000Z"]);
    const hourly = h.ran.filter((r) => r.job === "hourly");
    assert.ok(hourly.length >= 160 && hourly.length <= 168, `hourly ran ${hourly.length} times`);
    // Jobs on the repository never overlap; the rotate job (no repository) may.
    const onRepo = h.ran.filter((r) => jobs.find((j) => j.name === r.job)?.repositories.length);
    for (const [i, a] of onRepo.entries()) for (const b of onRepo.slice(i + 1)) assert.ok(!overlaps(a, b), `${a.job} and ${b.job} overlap`);
    // The two hours the check held the repository: the hourly job waited and ran once, after it.
    assert.ok(starts("hourly").includes("2026-06-01T05:00:00.000Z"));
    assert.ok(!starts("hourly").some((t) => t > "2026-06-01T02:59" && t < "2026-06-01T05:00"));

    const st = s.state.jobs.hourly;
    assert.ok(st && st.runs === hourly.length && st.consecutiveFailures === 0 && st.lastSuccess?.bytesAdded === 100);
    assert.equal(s.state.jobs.nightly?.nextRun, "2026-06-08T02:00:00.000Z");
    assert.equal(h.events.length, 0, "no notification when nothing fails");
    assert.ok(h.clock.steps < 2000, `${h.clock.steps} clock steps`);
  });

  it("a job that fails three runs in a row notifies once, and once more when it recovers", async () => {
    // Every run fails all 3 attempts for the first three runs, then works.
    const h = harness([job("b", { every: "1d", retries: 2 })], { start: "2026-06-01T00:00:00Z", fails: (_j, _a, n) => n < 9 });
    const s = await h.runFor("2026-06-03T00:00:00Z");
    assert.deepEqual(
      h.events.map((e) => [e.event, e.consecutiveFailures, e.run.attempts]),
      [
        ["failure", 1, 3],
        ["recovery", 3, 1],
      ],
    );
    const [failure, recovery] = h.events;
    assert.match(failure?.message ?? "", /job b \(backup\) failed after 3 attempts: b failed \(attempt 3\)/);
    assert.equal(failure?.run.error?.code, "BACKEND");
    assert.match(recovery?.message ?? "", /works again after 3 failed runs/);
    // Attempts 1 min and 2 min apart (after 1-minute attempts); failed runs start an hour apart.
    const starts = h.ran.map((r) => new Date(r.start).toISOString().slice(11, 16));
    assert.deepEqual(starts.slice(0, 4), ["00:00", "00:02", "00:05", "01:00"]);
    assert.equal(s.state.jobs.b?.failures, 3);
    assert.equal(s.state.jobs.b?.consecutiveFailures, 0);
    assert.equal(s.state.jobs.b?.lastFailure?.result, "failure");
  });

  it("a run that works on a retry notifies nothing", async () => {
    const h = harness([job("b", { every: "1d", retries: 2 })], { start: "2026-06-01T00:00:00Z", fails: (_j, attempt) => attempt === 1 });
    const s = await h.runFor("2026-06-04T00:00:00Z");
    assert.equal(h.events.length, 0);
    assert.equal(s.state.jobs.b?.lastSuccess?.attempts, 2);
  });

  it("successes are events too (the notifier sends them only when asked)", async () => {
    const h = harness([job("b", { every: "1d" })], { start: "2026-06-01T00:00:00Z" });
    await h.runFor("2026-06-02T12:00:00Z");
    assert.deepEqual(
      h.allEvents.map((e) => e.event),
      ["success", "success"],
    );
  });

  it("two jobs on one repository never overlap; a job on another repository runs beside them", async () => {
    const jobs = [job("a1", { every: "1h" }), job("a2", { every: "1h", what: "check" }), job("b1", { every: "1h", repositories: ["other"] }), job("copy", { what: "copy", every: "2h", repositories: ["other", "main"] })];
    const h = harness(jobs, { start: "2026-06-01T00:00:00Z", durations: { a1: 40 * MIN, a2: 30 * MIN, b1: 50 * MIN, copy: 10 * MIN } });
    await h.runFor("2026-06-02T00:00:00Z");
    const uses = (r: Ran, repo: string) => jobs.find((j) => j.name === r.job)?.repositories.includes(repo) ?? false;
    for (const repo of ["main", "other"]) {
      const on = h.ran.filter((r) => uses(r, repo));
      for (const [i, a] of on.entries()) for (const b of on.slice(i + 1)) assert.ok(!overlaps(a, b), `${a.job}@${new Date(a.start).toISOString()} and ${b.job}@${new Date(b.start).toISOString()} overlap on ${repo}`);
    }
    const a = h.ran.filter((r) => r.job === "a1" || r.job === "a2");
    const b = h.ran.filter((r) => r.job === "b1");
    assert.ok(a.some((x) => b.some((y) => overlaps(x, y))), "jobs on different repositories run at the same time");
    for (const name of ["a1", "a2", "b1", "copy"]) assert.ok(h.ran.filter((r) => r.job === name).length >= 8, `${name} ran`);
  });

  it("stops an attempt at its timeout and counts it as failed", async () => {
    const h = harness([job("slow", { every: "1d", timeoutMs: 10 * MIN })], { start: "2026-06-01T00:00:00Z", durations: { slow: 2 * H } });
    const s = await h.runFor("2026-06-01T00:30:00Z");
    assert.equal(h.ran[0]?.end, new Date("2026-06-01T00:10:00Z").getTime());
    assert.equal(s.state.jobs.slow?.lastRun?.result, "timeout");
    assert.match(s.state.jobs.slow?.lastRun?.error?.message ?? "", /timeout of 600 s/);
    assert.equal(h.events[0]?.event, "failure");
    assert.match(h.events[0]?.message ?? "", /timed out/);
  });

  it("a stop abandons the run in progress without counting it; the job runs again on the next start", async () => {
    const store = new MemoryStateStore();
    const h = harness([job("b", { cron: ["0 2 * * *"] })], { start: "2026-06-01T01:00:00Z", durations: { b: 2 * H }, store });
    const s = await h.runFor("2026-06-01T02:30:00Z");
    assert.equal(h.ran.length, 1);
    assert.equal(s.state.jobs.b?.lastRun, undefined);
    assert.equal(s.state.jobs.b?.inFlight, undefined);
    assert.equal(h.events.length, 0);
    assert.ok(h.log.lines.some((l) => /stopped before it finished; it runs again/.test(l)));
    // Back at 09:00: the 02:00 slot was missed, so the job runs at once, once.
    const h2 = harness([job("b", { cron: ["0 2 * * *"] })], { start: "2026-06-01T09:00:00Z", durations: { b: 10 * MIN }, store });
    await h2.runFor("2026-06-01T23:00:00Z");
    assert.deepEqual(
      h2.ran.map((r) => new Date(r.start).toISOString()),
      ["2026-06-01T09:00:00.000Z"],
    );
  });

  it("after a crash, the run that was in flight runs again, once", async () => {
    const state = emptyState();
    const yesterday = { startedAt: "2026-05-31T02:00:00.000Z", finishedAt: "2026-05-31T02:10:00.000Z", durationMs: 600_000, result: "success" as const, attempts: 1 };
    state.jobs.b = { since: "2026-05-01T00:00:00.000Z", consecutiveFailures: 0, runs: 5, failures: 0, lastRun: yesterday, lastSuccess: yesterday, inFlight: { startedAt: "2026-06-01T02:00:00.000Z", attempt: 1, pid: 99999 } };
    const h = harness([job("b", { cron: ["0 2 * * *"] })], { start: "2026-06-01T02:30:00Z", store: new MemoryStateStore(state) });
    const s = await h.runFor("2026-06-01T23:00:00Z");
    assert.deepEqual(
      h.ran.map((r) => new Date(r.start).toISOString()),
      ["2026-06-01T02:30:00.000Z"],
    );
    assert.ok(h.log.lines.some((l) => /started at 2026-06-01T02:00:00.000Z did not finish .* it runs again/.test(l)), h.log.lines.join("\n"));
    assert.equal(s.state.jobs.b?.runs, 6);
  });

  it("records the run in flight before the work starts", async () => {
    const store = new MemoryStateStore();
    const clock = new VirtualClock(new Date("2026-06-01T00:00:00Z"));
    let seen: unknown;
    const scheduler = await Scheduler.open({
      jobs: [job("b", { every: "1d" })],
      store,
      clock,
      execute: async () => {
        seen = (await store.load()).jobs.b?.inFlight;
        return { status: "success" };
      },
    });
    const stop = new AbortController();
    const running = scheduler.run(stop.signal);
    await clock.runUntil(new Date("2026-06-01T01:00:00Z"));
    stop.abort();
    await running;
    assert.deepEqual(seen, { startedAt: "2026-06-01T00:00:00.000Z", attempt: 1, pid: process.pid });
    assert.equal((await store.load()).jobs.b?.inFlight, undefined);
  });

  it("disabled jobs never run", async () => {
    const h = harness([job("off", { every: "1h", enabled: false })], { start: "2026-06-01T00:00:00Z" });
    const s = await h.runFor("2026-06-02T00:00:00Z");
    assert.equal(h.ran.length, 0);
    assert.equal(s.state.jobs.off?.nextRun, null);
  });
});

describe("ResourceQueue", () => {
  it("grants in order, keeps a waiting job's keys for it, lets disjoint jobs pass", async () => {
    const q = new ResourceQueue();
    const order: string[] = [];
    const r1 = await q.acquire(["a"]);
    const p2 = q.acquire(["a", "b"]).then((r) => (order.push("ab"), r));
    const p3 = q.acquire(["b"]).then((r) => (order.push("b"), r));
    const p4 = q.acquire(["c"]).then((r) => (order.push("c"), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ["c"], "c is free; b waits behind the job that needs a and b");
    r1();
    const r2 = await p2;
    assert.deepEqual(order, ["c", "ab"]);
    r2();
    (await p3)();
    (await p4)();
    assert.deepEqual(q.busy, []);
  });

  it("a waiter whose signal aborts leaves the queue", async () => {
    const q = new ResourceQueue();
    const r1 = await q.acquire(["a"]);
    const ac = new AbortController();
    const p = q.acquire(["a"], ac.signal);
    ac.abort(new Error("gone"));
    await assert.rejects(p, /gone/);
    r1();
    (await q.acquire(["a"]))();
  });
});
