// The golden cases of the policy engine: each is items + policy + now; the expected decisions
// live in golden/<name>.json (regenerate with UPDATE_GOLDEN=1 and review the diff).
import type { Policy } from "../../src/retention/index.js";

export interface CaseItem {
  id: string;
  time: string;
  tags?: string[];
  group?: string;
  protect?: string[];
}

export interface GoldenCase {
  name: string;
  description: string;
  now: string;
  /** Always with a timeZone: golden results must not depend on the machine. */
  policy: Policy;
  items: CaseItem[];
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** `count` items `step` ms apart from `start` (UTC ISO), ids `<prefix>00`, `<prefix>01`, … */
function series(prefix: string, start: string, step: number, count: number, extra: (i: number) => Partial<CaseItem> = () => ({})): CaseItem[] {
  const t0 = Date.parse(start);
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${String(i).padStart(2, "0")}`, time: new Date(t0 + i * step).toISOString(), ...extra(i) }));
}

const twiceDaily = [...series("a", "2026-03-25T22:30:00Z", DAY, 8), ...series("b", "2026-03-25T23:10:00Z", DAY, 8)];
const sundayNight = [
  { id: "a", time: "2026-11-08T10:30:00Z" },
  { id: "b", time: "2026-11-08T11:30:00Z" },
  { id: "c", time: "2026-11-15T10:30:00Z" },
  { id: "d", time: "2026-11-15T11:30:00Z" },
];
const daily40 = series("d", "2026-10-12T02:00:00Z", DAY, 40); // 2026-10-12 … 2026-11-20

export const CASES: GoldenCase[] = [
  // --- each keep rule -------------------------------------------------------------------
  {
    name: "last",
    description: "keep-last 3 keeps the three newest, whatever their dates",
    now: "2026-11-21T00:00:00Z",
    policy: { last: 3, timeZone: "UTC" },
    items: series("s", "2026-11-10T08:00:00Z", DAY, 10),
  },
  {
    name: "last-unlimited",
    description: "keep-last -1 (unlimited) keeps everything",
    now: "2026-11-21T00:00:00Z",
    policy: { last: -1, timeZone: "UTC" },
    items: series("s", "2026-11-15T08:00:00Z", DAY, 4),
  },
  {
    name: "hourly",
    description: "every 20 minutes for 6 hours; hourly 4 keeps the newest of the 4 newest hours",
    now: "2026-11-20T12:00:00Z",
    policy: { hourly: 4, timeZone: "UTC" },
    items: series("h", "2026-11-20T04:10:00Z", 20 * MIN, 18),
  },
  {
    name: "hourly-unlimited",
    description: "hourly -1 keeps the newest item of every hour",
    now: "2026-11-20T12:00:00Z",
    policy: { hourly: -1, timeZone: "UTC" },
    items: series("h", "2026-11-20T04:10:00Z", 25 * MIN, 10),
  },
  {
    name: "daily",
    description: "every 6 hours for 10 days; daily 5 keeps the last item of each of the 5 newest days",
    now: "2026-11-21T00:00:00Z",
    policy: { daily: 5, timeZone: "UTC" },
    items: series("d", "2026-11-11T01:00:00Z", 6 * HOUR, 40),
  },
  {
    name: "daily-oldest",
    description: "daily 10 with only 3 days of items: restic also keeps the oldest item while buckets are left",
    now: "2026-11-21T00:00:00Z",
    policy: { daily: 10, timeZone: "UTC" },
    items: series("d", "2026-11-18T01:00:00Z", 8 * HOUR, 8),
  },
  {
    name: "daily-gaps",
    description: "days without items do not count: daily 3 reaches back over the gaps",
    now: "2026-11-21T00:00:00Z",
    policy: { daily: 3, timeZone: "UTC" },
    items: [
      { id: "a", time: "2026-11-01T10:00:00Z" },
      { id: "b", time: "2026-11-05T10:00:00Z" },
      { id: "c", time: "2026-11-05T18:00:00Z" },
      { id: "d", time: "2026-11-12T10:00:00Z" },
      { id: "e", time: "2026-11-20T10:00:00Z" },
    ],
  },
  {
    name: "weekly",
    description: "daily items over 6 weeks; weekly 3 keeps the newest of the 3 newest ISO weeks (Monday first)",
    now: "2026-11-21T00:00:00Z",
    policy: { weekly: 3, timeZone: "UTC" },
    items: series("w", "2026-10-10T12:00:00Z", DAY, 42),
  },
  {
    name: "monthly",
    description: "weekly items over 8 months; monthly 4",
    now: "2026-11-21T00:00:00Z",
    policy: { monthly: 4, timeZone: "UTC" },
    items: series("m", "2026-03-20T12:00:00Z", 7 * DAY, 35),
  },
  {
    name: "yearly",
    description: "monthly-ish items over 4 years; yearly 3",
    now: "2026-11-21T00:00:00Z",
    policy: { yearly: 3, timeZone: "UTC" },
    items: series("y", "2023-01-15T12:00:00Z", 30 * DAY, 47),
  },
  {
    name: "within",
    description: "within 7d counts back from the newest item (restic), not from now: now is 60 days later",
    now: "2027-01-20T00:00:00Z",
    policy: { within: "7d", timeZone: "UTC" },
    items: series("s", "2026-11-01T12:00:00Z", DAY, 20),
  },
  {
    name: "within-future-item",
    description: "an item in the future does not move the within window (restic ignores it as the newest); it is kept",
    now: "2026-11-20T12:00:00Z",
    policy: { within: "2d", timeZone: "UTC" },
    items: [...series("s", "2026-11-14T10:00:00Z", DAY, 7), { id: "zfuture", time: "2026-12-25T00:00:00Z" }],
  },
  {
    name: "within-calendar-month",
    description: "within 1m from 31 March is 3 March (the month is a calendar step, normalized like Go's AddDate)",
    now: "2026-04-01T00:00:00Z",
    policy: { within: "1m", timeZone: "UTC" },
    items: series("s", "2026-02-28T12:00:00Z", DAY, 32),
  },
  {
    name: "within-buckets",
    description: "within-daily 5d keeps one per day in the last 5 days, within-weekly 3w one per week in 3 weeks",
    now: "2026-11-21T00:00:00Z",
    policy: { withinDaily: "5d", withinWeekly: "3w", timeZone: "UTC" },
    items: series("s", "2026-10-20T03:00:00Z", 12 * HOUR, 63),
  },
  {
    name: "within-hourly-monthly-yearly",
    description: "within-hourly 6h, within-monthly 3m, within-yearly 2y together",
    now: "2026-11-21T00:00:00Z",
    policy: { withinHourly: "6h", withinMonthly: "3m", withinYearly: "2y", timeZone: "UTC" },
    items: [...series("o", "2024-06-01T12:00:00Z", 45 * DAY, 20), ...series("r", "2026-11-20T10:00:00Z", 40 * MIN, 12)],
  },
  {
    name: "tags",
    description: "keep-tag: an entry 'a,b' needs both tags, entries are alternatives",
    now: "2026-11-21T00:00:00Z",
    policy: { tags: ["a,b", "keep"], timeZone: "UTC" },
    items: [
      { id: "t1", time: "2026-11-01T10:00:00Z", tags: ["a"] },
      { id: "t2", time: "2026-11-02T10:00:00Z", tags: ["a", "b"] },
      { id: "t3", time: "2026-11-03T10:00:00Z", tags: ["b", "a", "x"] },
      { id: "t4", time: "2026-11-04T10:00:00Z", tags: ["keep"] },
      { id: "t5", time: "2026-11-05T10:00:00Z" },
      { id: "t6", time: "2026-11-06T10:00:00Z", tags: ["b"] },
    ],
  },
  // --- limits -----------------------------------------------------------------------------
  {
    name: "max-age",
    description: "max-age 10d alone: no keep rule, so everything younger than now minus 10 days is kept",
    now: "2026-11-21T00:00:00Z",
    policy: { maxAge: "10d", timeZone: "UTC" },
    items: series("s", "2026-11-05T12:00:00Z", 2 * DAY, 8),
  },
  {
    name: "max-count",
    description: "max-count 4 alone keeps the 4 newest",
    now: "2026-11-21T00:00:00Z",
    policy: { maxCount: 4, timeZone: "UTC" },
    items: series("s", "2026-11-05T12:00:00Z", DAY, 9),
  },
  {
    name: "30-days-or-10-files-count-stricter",
    description: "'30 days OR 10 files, whichever is stricter' with daily backups: the count limit wins",
    now: "2026-11-21T00:00:00Z",
    policy: { maxAge: "30d", maxCount: 10, timeZone: "Europe/Paris" },
    items: daily40,
  },
  {
    name: "30-days-or-10-files-age-stricter",
    description: "'30 days OR 10 files, whichever is stricter' with weekly backups: the age limit wins",
    now: "2026-11-21T00:00:00Z",
    policy: { maxAge: "30d", maxCount: 10, timeZone: "Europe/Paris" },
    items: series("w", "2026-06-05T09:00:00Z", 7 * DAY, 24),
  },
  {
    name: "rules-and-limits",
    description: "daily 7, weekly 4, monthly 12 with max-age 45d: the limit removes old monthlies the rules kept",
    now: "2026-11-21T00:00:00Z",
    policy: { daily: 7, weekly: 4, monthly: 12, maxAge: "45d", timeZone: "UTC" },
    items: series("s", "2026-07-01T23:00:00Z", DAY, 143),
  },
  {
    name: "rules-and-max-count",
    description: "last 2 and tag 'release' keep 5; max-count 3 keeps only the 3 newest of them",
    now: "2026-11-21T00:00:00Z",
    policy: { last: 2, tags: ["release"], maxCount: 3, timeZone: "UTC" },
    items: series("s", "2026-11-01T12:00:00Z", DAY, 12, (i) => (i % 4 === 1 ? { tags: ["release"] } : {})),
  },
  // --- protections ------------------------------------------------------------------------
  {
    name: "protected",
    description: "protected items are kept whatever the rules and limits say, and max-count does not count them",
    now: "2026-11-21T00:00:00Z",
    policy: { last: 3, maxCount: 2, maxAge: "7d", timeZone: "UTC" },
    items: series("s", "2026-11-01T12:00:00Z", 2 * DAY, 10, (i) =>
      i === 0 ? { protect: ["protected: revision"] } : i === 8 ? { protect: ["protected: permanent", "protected: pending pre-change"] } : {},
    ),
  },
  {
    name: "newest-of-group",
    description: "every item is older than max-age: the newest stays (protected), the group is never emptied",
    now: "2026-11-21T00:00:00Z",
    policy: { maxAge: "30d", timeZone: "UTC" },
    items: series("s", "2026-08-01T12:00:00Z", 7 * DAY, 5),
  },
  {
    name: "newest-of-group-allow-empty",
    description: "the same with allowEmpty: every item goes",
    now: "2026-11-21T00:00:00Z",
    policy: { maxAge: "30d", allowEmpty: true, timeZone: "UTC" },
    items: series("s", "2026-08-01T12:00:00Z", 7 * DAY, 5),
  },
  {
    name: "newest-kept-when-only-old-tag-matches",
    description: "the tag rule keeps an old item; the newest item, kept by no rule, is kept as newest of group",
    now: "2026-11-21T00:00:00Z",
    policy: { tags: ["monthly"], timeZone: "UTC" },
    items: series("s", "2026-11-10T12:00:00Z", DAY, 5, (i) => (i === 1 ? { tags: ["monthly"] } : {})),
  },
  {
    name: "max-count-zero",
    description: "max-count 0 removes every unprotected item but the newest of each group",
    now: "2026-11-21T00:00:00Z",
    policy: { maxCount: 0, timeZone: "UTC" },
    items: series("s", "2026-11-10T12:00:00Z", DAY, 5, (i) => (i === 2 ? { protect: ["protected: permanent"] } : {})),
  },
  {
    name: "groups",
    description: "each group is decided alone: last 2 keeps two of each",
    now: "2026-11-21T00:00:00Z",
    policy: { last: 2, timeZone: "UTC" },
    items: [
      ...series("a", "2026-11-01T12:00:00Z", DAY, 4, () => ({ group: "web1 /srv" })),
      ...series("b", "2026-11-01T18:00:00Z", DAY, 4, () => ({ group: "web2 /srv" })),
      ...series("c", "2026-11-03T00:00:00Z", DAY, 1, () => ({ group: "db" })),
    ],
  },
  {
    name: "ties-and-order",
    description: "items given out of order, two at the same time: ordering is by time then id, newest = largest id",
    now: "2026-11-21T00:00:00Z",
    policy: { last: 2, daily: 2, timeZone: "UTC" },
    items: [
      { id: "c", time: "2026-11-20T10:00:00Z" },
      { id: "a", time: "2026-11-19T10:00:00Z" },
      { id: "d", time: "2026-11-20T10:00:00Z" },
      { id: "b", time: "2026-11-19T10:00:00Z" },
    ],
  },
  {
    name: "empty-policy",
    description: "no keep rule and no limit: everything is kept",
    now: "2026-11-21T00:00:00Z",
    policy: { timeZone: "UTC" },
    items: series("s", "2026-11-18T12:00:00Z", DAY, 3),
  },
  // --- calendars: DST, leap days, year ends, zones --------------------------------------------
  {
    name: "dst-paris-spring-hourly",
    description: "Europe/Paris, 29 March 2026: 02:00 does not exist; items every 30 min from 00:00 to 05:30 local; hourly 6",
    now: "2026-03-29T12:00:00Z",
    policy: { hourly: 6, timeZone: "Europe/Paris" },
    items: series("p", "2026-03-28T23:00:00Z", 30 * MIN, 11),
  },
  {
    name: "dst-paris-autumn-hourly",
    description: "Europe/Paris, 25 October 2026: 02:00–03:00 happens twice and is one wall-clock bucket (as in restic); hourly 5",
    now: "2026-10-25T12:00:00Z",
    policy: { hourly: 5, timeZone: "Europe/Paris" },
    items: series("p", "2026-10-24T22:15:00Z", 30 * MIN, 12),
  },
  {
    name: "dst-paris-spring-daily",
    description: "items at 22:30 and 23:10 UTC daily: in winter 23:30 and 00:10 (next day) in Paris, in summer 00:30 and 01:10 (both next day); daily 6",
    now: "2026-04-05T00:00:00Z",
    policy: { daily: 6, timeZone: "Europe/Paris" },
    items: twiceDaily,
  },
  {
    name: "dst-paris-spring-daily-utc",
    description: "the same items bucketed in UTC: another item is the newest of most days",
    now: "2026-04-05T00:00:00Z",
    policy: { daily: 6, timeZone: "UTC" },
    items: twiceDaily,
  },
  {
    name: "dst-paris-max-age-1d",
    description: "max-age 1d just after the spring change: one calendar day back is 23 hours",
    now: "2026-03-29T10:00:00Z",
    policy: { maxAge: "1d", timeZone: "Europe/Paris" },
    items: series("s", "2026-03-28T09:30:00Z", 30 * MIN, 6),
  },
  {
    name: "dst-paris-autumn-within-1d",
    description: "within 1d across the autumn change: one calendar day back is 25 hours",
    now: "2026-10-25T12:00:00Z",
    policy: { within: "1d", timeZone: "Europe/Paris" },
    items: series("s", "2026-10-24T09:00:00Z", 30 * MIN, 6).concat([{ id: "z", time: "2026-10-25T10:00:00Z" }]),
  },
  {
    name: "dst-denver-spring",
    description: "America/Denver, 8 March 2026: 02:00 MST jumps to 03:00 MDT; items every 40 min; hourly 5 and daily 2",
    now: "2026-03-09T00:00:00Z",
    policy: { hourly: 5, daily: 2, timeZone: "America/Denver" },
    items: series("d", "2026-03-08T06:20:00Z", 40 * MIN, 9),
  },
  {
    name: "dst-denver-autumn",
    description: "America/Denver, 1 November 2026: 01:00–02:00 happens twice; items every 20 min; hourly 4",
    now: "2026-11-02T00:00:00Z",
    policy: { hourly: 4, timeZone: "America/Denver" },
    items: series("d", "2026-11-01T06:10:00Z", 20 * MIN, 12),
  },
  {
    name: "dst-denver-daily-evening",
    description: "America/Denver: items at 05:30 UTC are the previous evening locally; daily 4 around the autumn change",
    now: "2026-11-06T00:00:00Z",
    policy: { daily: 4, weekly: 2, timeZone: "America/Denver" },
    items: series("e", "2026-10-29T05:30:00Z", DAY, 7),
  },
  {
    name: "leap-day-daily",
    description: "2028 is a leap year: 29 February is its own daily bucket",
    now: "2028-03-03T00:00:00Z",
    policy: { daily: 4, monthly: 2, timeZone: "UTC" },
    items: series("l", "2028-02-26T12:00:00Z", DAY, 6),
  },
  {
    name: "leap-day-within-month",
    description: "within 1m from 31 March 2028 is 2 March (31 February normalizes to 2 March in a leap year)",
    now: "2028-04-01T00:00:00Z",
    policy: { within: "1m", timeZone: "UTC" },
    items: [...series("l", "2028-02-27T12:00:00Z", DAY, 6), { id: "zlast", time: "2028-03-31T12:00:00Z" }],
  },
  {
    name: "leap-day-max-age-year",
    description: "max-age 1y from 1 March 2029 06:00 reaches back to 1 March 2028 06:00: the items of 29 February and before go",
    now: "2029-03-01T06:00:00Z",
    policy: { maxAge: "1y", timeZone: "UTC" },
    items: series("l", "2028-02-27T12:00:00Z", DAY, 5),
  },
  {
    name: "leap-day-within-year",
    description: "within 1y from 29 February 2028 goes back to 1 March 2027 (29 February 2027 normalizes)",
    now: "2028-03-01T00:00:00Z",
    policy: { within: "1y", timeZone: "UTC" },
    items: [...series("l", "2027-02-27T12:00:00Z", DAY, 4), { id: "zleap", time: "2028-02-29T12:00:00Z" }],
  },
  {
    name: "iso-week-53",
    description: "2026 has an ISO week 53 (28 Dec 2026 – 3 Jan 2027): 1–3 January 2027 belong to 2026-W53; weekly 3",
    now: "2027-01-12T00:00:00Z",
    policy: { weekly: 3, timeZone: "UTC" },
    items: series("w", "2026-12-20T12:00:00Z", DAY, 22),
  },
  {
    name: "year-boundary",
    description: "yearly and monthly buckets across New Year, in UTC",
    now: "2027-01-05T00:00:00Z",
    policy: { yearly: 2, monthly: 2, daily: 2, timeZone: "UTC" },
    items: series("n", "2026-12-29T20:00:00Z", 12 * HOUR, 10),
  },
  {
    name: "year-boundary-tokyo",
    description: "the same items in Asia/Tokyo (UTC+9): New Year comes 9 hours earlier",
    now: "2027-01-05T00:00:00Z",
    policy: { yearly: 2, monthly: 2, daily: 2, timeZone: "Asia/Tokyo" },
    items: series("n", "2026-12-29T20:00:00Z", 12 * HOUR, 10),
  },
  {
    name: "zone-los-angeles",
    description: "daily 3 in America/Los_Angeles (UTC-8): items before 08:00 UTC belong to the previous local day",
    now: "2026-11-21T00:00:00Z",
    policy: { daily: 3, timeZone: "America/Los_Angeles" },
    items: series("z", "2026-11-16T04:00:00Z", 10 * HOUR, 10),
  },
  {
    name: "zone-kathmandu",
    description: "Asia/Kathmandu is UTC+5:45: hourly buckets are offset by 45 minutes from UTC hours",
    now: "2026-11-21T00:00:00Z",
    policy: { hourly: 3, timeZone: "Asia/Kathmandu" },
    items: series("k", "2026-11-20T10:00:00Z", 20 * MIN, 9),
  },
  {
    name: "zone-weekly-sunday-night",
    description: "Sunday 23:30 in Pacific/Auckland is Sunday 10:30 UTC, but Monday 00:30 there is still Sunday in UTC; weekly 2",
    now: "2026-11-21T00:00:00Z",
    policy: { weekly: 2, timeZone: "Pacific/Auckland" },
    items: sundayNight,
  },
  {
    name: "zone-weekly-sunday-night-utc",
    description: "the same items in UTC: all four are on Sundays, two weeks",
    now: "2026-11-21T00:00:00Z",
    policy: { weekly: 2, timeZone: "UTC" },
    items: sundayNight,
  },
];
