/**
 * retention: the pure policy engine. `applyPolicy(items, policy, now)` decides which dated
 * items to keep and which to remove, with the reasons for each: keep rules (last, hourly …
 * yearly in calendar buckets of a time zone, within, within-<bucket>, tags), then limits
 * (max-age, max-count), then protections. Snapshots (`ops/forget`), rotated files and `.bak`
 * copies all go through it. No I/O; the clock is a parameter.
 */
export * from "./apply-policy.js";
export { CalendarBuckets, type BucketKind, wallClock } from "./buckets.js";
export * from "./duration.js";
export { checkPolicy, type Decision, isEmptyPolicy, type Policy, type PolicyResult, type RetentionItem } from "./policy.js";
