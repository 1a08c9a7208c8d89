import assert from "node:assert/strict";
import { test } from "node:test";
import { isCofferError } from "../../src/core/errors.js";
import { applyPolicy, CalendarBuckets, wallClock } from "../../src/retention/index.js";

test("one wall-clock formatter per zone for the life of the process", () => {
  const paris = wallClock("Europe/Paris");
  assert.equal(wallClock("Europe/Paris").format, paris.format, "the same formatter, not a new one");
  assert.notEqual(wallClock("UTC").format, paris.format);
  assert.equal(wallClock(undefined).format, wallClock(undefined).format, "the machine's zone is cached too");
  assert.equal(paris.timeZone, "Europe/Paris");
  assert.equal(wallClock("utc").timeZone, "UTC", "the canonical name");
  assert.equal(new CalendarBuckets("Europe/Paris").label("hourly", new Date("2026-07-01T10:30:00Z")), "2026-07-01T12");
  assert.throws(() => wallClock("Mars/Olympus"), (e: unknown) => isCofferError(e, "INVALID") && /"Mars\/Olympus" is not a time zone/.test(e.message));
  assert.throws(() => wallClock("Mars/Olympus"), "a bad zone is not cached as good");
});

test("applyPolicy gives the same decisions with the cached formatter, call after call", () => {
  const items = Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, time: new Date(Date.UTC(2026, 9, 1 + i, 22, 30)) }));
  const policy = { daily: 7, weekly: 2, timeZone: "America/Denver" };
  const first = applyPolicy(items, policy, new Date("2026-11-01T00:00:00Z")).keep.map((d) => d.id);
  for (let i = 0; i < 3; i++) assert.deepEqual(applyPolicy(items, policy, new Date("2026-11-01T00:00:00Z")).keep.map((d) => d.id), first);
  // 24–30 October by day (Denver); the newest of weeks 43 and 44 are among them.
  assert.deepEqual(first, ["s23", "s24", "s25", "s26", "s27", "s28", "s29"]);
});
