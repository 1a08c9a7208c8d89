import { test } from "node:test";
import assert from "node:assert/strict";
import { isCofferError } from "../../src/core/errors.js";
import { checkDue } from "../../src/rotate/check-due.js";
import { dateFormat } from "../../src/rotate/date-format.js";
import { datedName, parseCopyName } from "../../src/rotate/rotated-name.js";
import { resolveRule, ROTATE_DEFAULTS } from "../../src/rotate/rule.js";
import { nextBoundary } from "../../src/rotate/next-boundary.js";

test("the defaults reproduce the seeds: 5 MB or daily, 5 KB and 1 hour guards, 7 backups, gzip after 7 days, 30 days or 7 archived", () => {
  const r = resolveRule({ files: ["/l/app.log"] });
  assert.equal(r.size, 5 * 1024 * 1024);
  assert.equal(r.interval, "daily");
  assert.equal(r.minSize, 5 * 1024);
  assert.equal(r.minAge?.text, "1h");
  assert.deepEqual([r.backupsDir, r.keep, r.archiveDir, r.compress, r.compressAfter.text, r.archiveMaxAge, r.archiveKeep], ["backups", 7, "archive", "gzip", "7d", "30d", 7]);
  assert.equal(r.ifEmpty, false);
  assert.equal(ROTATE_DEFAULTS.mode, "create");
});

test("one trigger given turns the other default off; null turns a limit off", () => {
  const bySize = resolveRule({ files: ["/a"], size: "10M" });
  assert.equal(bySize.interval, undefined);
  assert.equal(bySize.size, 10 * 1024 * 1024);
  const byTime = resolveRule({ files: ["/a"], interval: "hourly", timeZone: "Europe/Paris" });
  assert.equal(byTime.size, undefined);
  const open = resolveRule({ files: ["/a"], archiveDir: null, archiveKeep: null, archiveMaxAge: null, minSize: null, minAge: null });
  assert.deepEqual([open.archiveDir, open.archiveKeep, open.archiveMaxAge, open.minSize, open.minAge], [undefined, undefined, undefined, undefined, undefined]);
});

test("bad values are INVALID and name the rule and the field", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ files: [] }, /files/],
    [{ files: ["/a"], interval: "fortnightly" }, /interval/],
    [{ files: ["/a"], size: "lots" }, /size/],
    [{ files: ["/a"], compressAfter: "7 days" }, /compressAfter.*7d/],
    [{ files: ["/a"], keep: -1 }, /keep/],
    [{ files: ["/a"], timeZone: "Mars/Olympus" }, /time zone/],
    [{ files: ["/a"], dateFormat: ".%Q" }, /%Q/],
    [{ files: ["/a"], ifEmpty: true, notIfEmpty: true }, /contradict/],
    [{ files: ["/a"], createMode: "rw-r--r--" }, /createMode/],
    [{ files: ["/a"], createOwner: "no-such-user-xyz" }, /no user named/],
  ];
  for (const [rule, re] of cases) {
    assert.throws(() => resolveRule({ name: "r", ...rule } as never), (err: unknown) => isCofferError(err, "INVALID") && re.test(err.message), JSON.stringify(rule));
  }
});

test("date formats write and read back in a time zone, sortable whatever the field order", () => {
  const t = new Date("2026-03-29T00:30:00Z"); // 01:30 in Paris, 20:30 the day before in Denver
  assert.equal(dateFormat(".%Y-%m-%d", "Europe/Paris").format(t), ".2026-03-29");
  assert.equal(dateFormat("-%Y%m%d%H", "America/Denver").format(t), "-2026032818");
  assert.equal(dateFormat("-%s", "UTC").format(t), `-${t.getTime() / 1000}`);
  assert.equal(dateFormat("_%j_%V", "UTC").format(t), "_088_13");
  const dmy = dateFormat("-%d.%m.%Y", "UTC");
  assert.deepEqual(dmy.key("-29.03.2026"), [2026, 3, 29, 0, 0, 0, 0]);
});

test("rotated names: dated with a counter on collision, numbered; both compression endings are read", () => {
  const dated = resolveRule({ files: ["/l/app.log"], timeZone: "UTC" });
  const now = new Date("2026-11-20T10:00:00Z");
  const started = new Date("2026-11-18T23:00:00Z");
  assert.equal(dated.nameDate, "start");
  assert.equal(datedName("app.log", dated, { now, started }, 0), "app.log.2026-11-18");
  assert.equal(datedName("app.log", dated, { now }, 2), "app.log.2026-11-20.2");
  assert.equal(datedName("app.log", { ...dated, nameDate: "rotation" }, { now, started }, 0), "app.log.2026-11-20");
  assert.equal(datedName("app.log", { ...dated, nameDate: "yesterday" }, { now, started }, 0), "app.log.2026-11-19");
  const a = parseCopyName("app.log", "app.log.2026-11-20.2.gz", dated);
  const b = parseCopyName("app.log", "app.log.2026-11-20", dated);
  assert.deepEqual([a?.compressed, a?.stem], ["gzip", "app.log.2026-11-20.2"]);
  assert.ok(a && b && a.key[6] === 0 && (a.key[7] ?? 0) > (b.key[7] ?? 0));
  assert.equal(parseCopyName("app.log", "app.log.bak", dated), undefined);
  assert.equal(parseCopyName("app.log", "other.log.2026-11-20", dated), undefined);
  const numbered = resolveRule({ files: ["/l/app.log"], naming: "numbered" });
  assert.deepEqual(parseCopyName("app.log", "app.log.12.zst", numbered), { stem: "app.log.12", compressed: "zstd", key: [-12], number: 12 });
});

test("checkDue: logrotate's order — empty, force, max-size and size, then the interval held back by the guards", () => {
  const r = resolveRule({ files: ["/a"], timeZone: "UTC" });
  const now = new Date("2026-11-20T00:10:00Z");
  const base = { mtime: now, created: new Date("2026-11-19T08:00:00Z"), lastRotation: new Date("2026-11-19T00:05:00Z"), now, force: false };
  assert.deepEqual(checkDue(r, { ...base, size: 0, force: true }).reasons, ["empty (not-if-empty)"]);
  assert.deepEqual(checkDue(r, { ...base, size: 10, force: true }), { due: true, reasons: ["forced"], warnings: [] });
  assert.match(checkDue(r, { ...base, size: 6 * 1024 * 1024 }).reasons[0] ?? "", /size 6\.0 MiB ≥ 5\.0 MiB/);
  assert.deepEqual(checkDue(r, { ...base, size: 8000 }), { due: true, reasons: ["daily: last rotated 2026-11-19, now 2026-11-20"], warnings: [] });
  assert.match(checkDue(r, { ...base, size: 4000 }).reasons[0] ?? "", /but under min-size 5\.0 KiB/);
  assert.match(checkDue(r, { ...base, size: 8000, created: new Date("2026-11-19T23:50:00Z") }).reasons[0] ?? "", /younger than min-age 1h/);
  const same = checkDue(r, { ...base, size: 8000, lastRotation: new Date("2026-11-20T00:01:00Z") });
  assert.deepEqual(same.reasons, ["not due: size 7.8 KiB < 5.0 MiB", "not due: daily: already rotated 2026-11-20"]);
  assert.equal(checkDue(r, { ...base, size: 8000, lastRotation: undefined }).due, false);
});

test("checkDue: a last rotation in the future is a clock going backwards: a warning, and rotation once it is over a day off", () => {
  const r = resolveRule({ files: ["/a"], interval: "daily", minSize: null, minAge: null, timeZone: "UTC" });
  const now = new Date("2026-11-20T12:00:00Z");
  const near = checkDue(r, { size: 10, mtime: now, created: undefined, lastRotation: new Date("2026-11-20T15:00:00Z"), now, force: false });
  assert.equal(near.due, false);
  assert.equal(near.warnings[0]?.code, "CLOCK_BACKWARDS");
  const far = checkDue(r, { size: 10, mtime: now, created: undefined, lastRotation: new Date("2026-11-23T00:00:00Z"), now, force: false });
  assert.equal(far.due, true);
  assert.match(far.warnings[0]?.message ?? "", /rotating now/);
});

test("nextBoundary finds the next midnight, hour and Monday in the zone, across DST", () => {
  const paris = resolveRule({ files: ["/a"], interval: "daily", timeZone: "Europe/Paris" }).calendar;
  // 2026-03-29: Paris moves from +01 to +02 at 02:00; the next midnight is 22:00Z.
  assert.equal(new Date(nextBoundary(paris, "daily", Date.parse("2026-03-29T10:00:00Z"))).toISOString(), "2026-03-29T22:00:00.000Z");
  assert.equal(new Date(nextBoundary(paris, "hourly", Date.parse("2026-03-29T00:59:59.999Z"))).toISOString(), "2026-03-29T01:00:00.000Z");
  assert.equal(new Date(nextBoundary(paris, "weekly", Date.parse("2026-11-20T10:00:00Z"))).toISOString(), "2026-11-22T23:00:00.000Z");
  assert.equal(nextBoundary(paris, "daily", Date.parse("2026-11-20T10:00:00Z")), Date.parse("2026-11-20T23:00:00Z"));
});
