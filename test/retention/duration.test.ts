import assert from "node:assert/strict";
import { test } from "node:test";
import { CofferError } from "../../src/core/errors.js";
import { applyPolicy, CalendarBuckets, isEmptyPolicy, parseDuration } from "../../src/retention/index.js";

test("parseDuration reads restic's units plus weeks", () => {
  assert.deepEqual(parseDuration("30d"), { years: 0, months: 0, days: 30, hours: 0, text: "30d" });
  assert.deepEqual(parseDuration("2w"), { years: 0, months: 0, days: 14, hours: 0, text: "2w" });
  assert.deepEqual(parseDuration("1y6m"), { years: 1, months: 6, days: 0, hours: 0, text: "1y6m" });
  assert.deepEqual(parseDuration(" 1y2m3d4h "), { years: 1, months: 2, days: 3, hours: 4, text: "1y2m3d4h" });
  assert.deepEqual(parseDuration("1w2d"), { years: 0, months: 0, days: 9, hours: 0, text: "1w2d" });
});

test("parseDuration refuses other spellings with one sentence and a hint", () => {
  const cases: [string, RegExp][] = [
    ["7 days", /use 7d\.$/],
    ["1 year 6 months", /use 1y6m\.$/],
    ["2 weeks and 3 days", /use 2w3d\.$/],
    ["30D", /use 30d\.$/],
    ["30", /add a unit, e\.g\. 30d/],
    ["1.5d", /whole numbers/],
    ["10min", /smallest unit is the hour/],
    ["1M", /lower-case m/],
    ["-3d", /positive/],
    ["2w3w", /each unit once/],
    ["", /give a number and a unit/],
    ["soon", /use a number and a unit/],
  ];
  for (const [input, hint] of cases) {
    assert.throws(
      () => parseDuration(input),
      (err: unknown) => err instanceof CofferError && err.code === "INVALID" && err.message.startsWith(`"${input}" is not a duration; `) && hint.test(err.message),
      input,
    );
  }
});

test("CalendarBuckets: labels, ISO weeks, and calendar steps over DST changes", () => {
  const paris = new CalendarBuckets("Europe/Paris");
  assert.deepEqual(paris.labels(new Date("2026-12-31T23:30:00Z")), { hourly: "2027-01-01T00", daily: "2027-01-01", weekly: "2026-W53", monthly: "2027-01", yearly: "2027" });
  const utc = new CalendarBuckets("UTC");
  assert.equal(utc.label("weekly", new Date("2021-01-03T12:00:00Z")), "2020-W53");
  assert.equal(utc.label("weekly", new Date("2021-01-04T12:00:00Z")), "2021-W01");
  assert.equal(utc.label("weekly", new Date("2024-12-30T12:00:00Z")), "2025-W01");
  // A calendar day before 14:00 CEST on the day of the spring change is 14:00 CET: 23 hours.
  assert.equal(paris.subtract(new Date("2026-03-29T12:00:00Z"), parseDuration("1d")).toISOString(), "2026-03-28T13:00:00.000Z");
  // A wall time the change skips moves forward by the gap; one that occurs twice is the earlier.
  assert.equal(paris.subtract(new Date("2026-03-30T00:30:00Z"), parseDuration("1d")).toISOString(), "2026-03-29T01:30:00.000Z");
  assert.equal(paris.subtract(new Date("2026-10-26T01:30:00Z"), parseDuration("1d")).toISOString(), "2026-10-25T00:30:00.000Z");
  // Months and years normalize like Go's AddDate: 31 March minus a month is 3 March.
  assert.equal(utc.subtract(new Date("2026-03-31T10:00:00Z"), parseDuration("1m")).toISOString(), "2026-03-03T10:00:00.000Z");
  assert.equal(utc.add(new Date("2028-02-29T10:00:00Z"), parseDuration("1y")).toISOString(), "2029-03-01T10:00:00.000Z");
  assert.equal(utc.subtract(new Date("2026-11-20T10:00:00Z"), parseDuration("12h")).toISOString(), "2026-11-19T22:00:00.000Z");
  const denver = new CalendarBuckets("America/Denver");
  assert.equal(denver.format(new Date("2026-11-01T08:30:00Z")), "2026-11-01 01:30:00");
  assert.equal(denver.format(new Date("2026-11-01T07:30:00Z")), "2026-11-01 01:30:00");
});

test("a bad time zone or policy value is INVALID with a hint", () => {
  assert.throws(() => new CalendarBuckets("Mars/Olympus"), /"Mars\/Olympus" is not a time zone; use an IANA name/);
  const items = [{ id: "a", time: new Date("2026-11-20T00:00:00Z") }];
  const now = new Date("2026-11-21T00:00:00Z");
  assert.throws(() => applyPolicy(items, { daily: 1.5 }, now), (e: unknown) => e instanceof CofferError && e.code === "INVALID");
  assert.throws(() => applyPolicy(items, { maxCount: -1 }, now), /max-count must be a whole number/);
  assert.throws(() => applyPolicy(items, { within: "7 days" }, now), /use 7d/);
  assert.throws(() => applyPolicy([{ id: "x", time: new Date("nope") }], { last: 1 }, now), /Item "x" has no valid time/);
});

test("isEmptyPolicy: counts of 0 and a time zone are no policy; a limit is one", () => {
  assert.equal(isEmptyPolicy({}), true);
  assert.equal(isEmptyPolicy({ daily: 0, tags: [], timeZone: "UTC", allowEmpty: true }), true);
  assert.equal(isEmptyPolicy({ maxCount: 0 }), false);
  assert.equal(isEmptyPolicy({ maxAge: "30d" }), false);
  assert.equal(isEmptyPolicy({ last: -1 }), false);
  assert.equal(isEmptyPolicy({ tags: ["x"] }), false);
});

test("the machine's time zone is the default", () => {
  assert.equal(new CalendarBuckets().timeZone, new Intl.DateTimeFormat().resolvedOptions().timeZone);
});
