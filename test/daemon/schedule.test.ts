import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isCofferError } from "../../src/core/errors.js";
import { checkCronExpression, expectedInterval, isDue, nextRun, type RunHistory, type ScheduleSpec } from "../../src/daemon/schedule.js";
import { parseDuration } from "../../src/retention/index.js";

const H = 3_600_000;
const D = 24 * H;

const every = (d: string, tz = "UTC"): ScheduleSpec => ({ everyDuration: parseDuration(d), cron: [], timeZone: tz });
const cron = (expr: string | string[], tz = "UTC"): ScheduleSpec => ({ cron: Array.isArray(expr) ? expr : [expr], timeZone: tz });
const at = (hhmm: string, tz = "UTC"): ScheduleSpec => {
  const [h, m] = hhmm.split(":").map(Number) as [number, number];
  return cron(`${m} ${h} * * *`, tz);
};

/**
 * Runs a schedule from `start` to `end` as the daemon would: whenever the job is due it runs
 * (for `runMs`), succeeding unless `fails` says otherwise. Returns the start times.
 */
function simulate(schedule: ScheduleSpec, start: Date, end: Date, history: RunHistory = {}, opts: { runMs?: number; fails?: (t: Date, n: number) => boolean } = {}): Date[] {
  const h: RunHistory = { since: start, ...history };
  const runs: Date[] = [];
  let t = start;
  for (let guard = 0; guard < 100_000; guard++) {
    const due = nextRun(schedule, h, t);
    if (due === undefined || due > end) break;
    if (due > t) t = due;
    const failed = opts.fails?.(t, runs.length) ?? false;
    runs.push(t);
    h.lastRun = t;
    h.lastRunFailed = failed;
    if (!failed) h.lastSuccess = t;
    t = new Date(t.getTime() + (opts.runMs ?? 60_000));
  }
  return runs;
}

const iso = (ds: Date[]): string[] => ds.map((d) => d.toISOString());

describe("every D", () => {
  it("runs at once when it never ran, then D after each success", () => {
    const start = new Date("2026-01-01T10:00:00Z");
    const runs = simulate(every("1d"), start, new Date("2026-01-04T12:00:00Z"));
    assert.deepEqual(iso(runs), ["2026-01-01T10:00:00.000Z", "2026-01-02T10:00:00.000Z", "2026-01-03T10:00:00.000Z", "2026-01-04T10:00:00.000Z"]);
  });

  it("weekly catch-up after a 3-week downtime runs once, then a week later", () => {
    const lastSuccess = new Date("2026-01-01T10:00:00Z");
    // The daemon was down from Jan 2 to Jan 22 (three missed weeks), then runs for 10 days.
    const back = new Date("2026-01-22T08:00:00Z");
    const runs = simulate(every("7d"), back, new Date("2026-02-01T08:00:00Z"), { lastSuccess, lastRun: lastSuccess });
    assert.deepEqual(iso(runs), ["2026-01-22T08:00:00.000Z", "2026-01-29T08:00:00.000Z"]);
  });

  it("is not due while the last success is younger than D", () => {
    const h = { lastSuccess: new Date("2026-01-01T10:00:00Z") };
    assert.equal(isDue(every("7d"), h, new Date("2026-01-08T09:59:59Z")), false);
    assert.equal(isDue(every("7d"), h, new Date("2026-01-08T10:00:00Z")), true);
  });

  it("steps calendar days in the zone across DST: 1d is 23 h in spring and 25 h in autumn (Europe/Berlin)", () => {
    const s = every("1d", "Europe/Berlin");
    // 12:00 CET on 28 March 2026 → 12:00 CEST on 29 March.
    assert.equal(nextRun(s, { lastSuccess: new Date("2026-03-28T11:00:00Z") }, new Date("2026-03-28T12:00:00Z"))?.toISOString(), "2026-03-29T10:00:00.000Z");
    // 12:00 CEST on 24 October → 12:00 CET on 25 October.
    assert.equal(nextRun(s, { lastSuccess: new Date("2026-10-24T10:00:00Z") }, new Date("2026-10-24T12:00:00Z"))?.toISOString(), "2026-10-25T11:00:00.000Z");
  });

  it("tries a failed run again after an hour, not at once and not a week later", () => {
    const lastSuccess = new Date("2026-01-01T10:00:00Z");
    const failedAt = new Date("2026-01-08T10:00:00Z");
    const h = { lastSuccess, lastRun: failedAt, lastRunFailed: true };
    assert.equal(nextRun(every("7d"), h, failedAt)?.toISOString(), "2026-01-08T11:00:00.000Z");
    assert.equal(nextRun(every("7d"), h, failedAt, { afterFailureMs: 10 * 60_000 })?.toISOString(), "2026-01-08T10:10:00.000Z");
    // With D shorter than the delay, D wins.
    assert.equal(nextRun(every("1h"), { lastRun: failedAt, lastRunFailed: true }, failedAt, { afterFailureMs: 5 * H })?.toISOString(), "2026-01-08T11:00:00.000Z");
  });

  it("counts from the last success again once it succeeds", () => {
    const runs = simulate(every("1d"), new Date("2026-01-01T00:00:00Z"), new Date("2026-01-03T00:00:00Z"), {}, { fails: (_t, n) => n === 0 });
    assert.deepEqual(iso(runs), ["2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z", "2026-01-02T01:00:00.000Z"]);
  });
});

describe("cron and at", () => {
  it("at 02:00 runs daily at 02:00 in the zone", () => {
    const runs = simulate(at("02:00", "America/New_York"), new Date("2026-06-01T12:00:00Z"), new Date("2026-06-04T12:00:00Z"));
    assert.deepEqual(iso(runs), ["2026-06-02T06:00:00.000Z", "2026-06-03T06:00:00.000Z", "2026-06-04T06:00:00.000Z"]);
  });

  it("a job first seen waits for its first slot", () => {
    const now = new Date("2026-06-01T12:00:00Z");
    assert.equal(nextRun(at("02:00"), { since: now }, now)?.toISOString(), "2026-06-02T02:00:00.000Z");
    assert.equal(nextRun(at("02:00"), {}, now)?.toISOString(), "2026-06-02T02:00:00.000Z");
  });

  it("slots missed while the daemon was down run once, at once", () => {
    const lastRun = new Date("2026-06-01T02:00:00Z");
    const back = new Date("2026-06-05T09:30:00Z");
    const runs = simulate(at("02:00"), back, new Date("2026-06-07T00:00:00Z"), { lastRun, lastSuccess: lastRun });
    assert.deepEqual(iso(runs), ["2026-06-05T09:30:00.000Z", "2026-06-06T02:00:00.000Z"]);
  });

  it("a slot missed since the job was first seen counts", () => {
    const since = new Date("2026-06-01T12:00:00Z");
    assert.equal(isDue(at("02:00"), { since }, new Date("2026-06-02T08:00:00Z")), true);
  });

  it("at 02:30 runs once on the spring DST day (the wall clock skips 02:00–03:00) and once on the autumn one (Europe/Berlin)", () => {
    const tz = "Europe/Berlin";
    const spring = simulate(at("02:30", tz), new Date("2026-03-27T12:00:00Z"), new Date("2026-03-31T12:00:00Z"));
    assert.deepEqual(iso(spring), [
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST: the first time after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ]);
    const autumn = simulate(at("02:30", tz), new Date("2026-10-23T12:00:00Z"), new Date("2026-10-27T12:00:00Z"));
    assert.deepEqual(iso(autumn), [
      "2026-10-24T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T00:30:00.000Z", // the first 02:30; the repeated hour does not run it again
      "2026-10-26T01:30:00.000Z", // 02:30 CET
      "2026-10-27T01:30:00.000Z",
    ]);
  });

  it("several expressions: the earliest slot of any", () => {
    const s = cron(["0 6 * * *", "0 18 * * *"]);
    const runs = simulate(s, new Date("2026-06-01T00:00:00Z"), new Date("2026-06-02T00:00:00Z"));
    assert.deepEqual(iso(runs), ["2026-06-01T06:00:00.000Z", "2026-06-01T18:00:00.000Z"]);
  });

  it("a failed cron run waits for the next slot", () => {
    const failed = new Date("2026-06-01T02:00:00Z");
    assert.equal(nextRun(at("02:00"), { lastRun: failed, lastRunFailed: true }, failed)?.toISOString(), "2026-06-02T02:00:00.000Z");
  });

  it("a cron expression that never matches again gives no next run", () => {
    assert.equal(nextRun(cron("0 0 30 2 *"), {}, new Date("2026-01-01T00:00:00Z")), undefined);
  });

  it("a bad expression is INVALID with a hint", () => {
    assert.throws(() => checkCronExpression("every monday"), (e) => isCofferError(e, "INVALID") && /e\.g\./.test(e.message));
  });
});

describe("every D at a time (the seeds' weekly backup at 01:00 if 7+ days since the last)", () => {
  const weekly = (tz = "UTC"): ScheduleSpec => ({ everyDuration: parseDuration("7d"), cron: ["0 1 * * *"], timeZone: tz });

  it("runs at 01:00 a week after a run that started a little after 01:00", () => {
    const lastSuccess = new Date("2026-01-01T01:00:03Z");
    const h = { lastSuccess, lastRun: lastSuccess };
    assert.equal(nextRun(weekly(), h, new Date("2026-01-02T00:00:00Z"))?.toISOString(), "2026-01-08T01:00:00.000Z");
  });

  it("runs once after a 3-week downtime, then a week after that slot", () => {
    const lastSuccess = new Date("2026-01-01T01:00:00Z");
    const back = new Date("2026-01-25T15:00:00Z");
    const runs = simulate(weekly(), back, new Date("2026-02-10T00:00:00Z"), { lastSuccess, lastRun: lastSuccess });
    assert.deepEqual(iso(runs), ["2026-01-25T15:00:00.000Z", "2026-02-01T01:00:00.000Z", "2026-02-08T01:00:00.000Z"]);
  });

  it("never ran: the next 01:00", () => {
    const now = new Date("2026-01-05T12:00:00Z");
    assert.equal(nextRun(weekly(), { since: now }, now)?.toISOString(), "2026-01-06T01:00:00.000Z");
  });

  it("a failed run is tried at the next day's 01:00", () => {
    const lastSuccess = new Date("2026-01-01T01:00:00Z");
    const failed = new Date("2026-01-08T01:00:00Z");
    assert.equal(nextRun(weekly(), { lastSuccess, lastRun: failed, lastRunFailed: true }, failed)?.toISOString(), "2026-01-09T01:00:00.000Z");
  });

  it("keeps 01:00 on the wall clock across DST (Europe/Berlin)", () => {
    const runs = simulate(weekly("Europe/Berlin"), new Date("2026-03-20T12:00:00Z"), new Date("2026-04-06T00:00:00Z"), { lastSuccess: new Date("2026-03-19T00:00:00Z"), lastRun: new Date("2026-03-19T00:00:00Z") });
    assert.deepEqual(iso(runs), ["2026-03-26T00:00:00.000Z", "2026-04-01T23:00:00.000Z"]);
  });
});

describe("expectedInterval", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  it("is D for every, the slot gap for cron, and D plus a gap for both", () => {
    assert.equal(expectedInterval(every("7d"), now), 7 * D);
    assert.equal(expectedInterval(at("02:00"), now), D);
    assert.equal(expectedInterval(cron("0 1 * * 1"), now), 7 * D);
    assert.equal(expectedInterval({ everyDuration: parseDuration("7d"), cron: ["0 1 * * *"], timeZone: "UTC" }, now), 8 * D);
    assert.equal(expectedInterval({ cron: [] }, now), undefined);
  });
});
