/** A retention policy in coffer.yaml: the fields of `Policy` (src/retention/policy.ts) in kebab-case. */
import { z } from "zod";
import { count, duration, list, timeZone } from "./schema-parts.js";

export const policySchema = z
  .strictObject({
    last: count("Keep the newest N snapshots (-1: all).", -1).optional(),
    hourly: count("Keep the newest snapshot of each of the last N hours (-1: all).", -1).optional(),
    daily: count("Keep the newest snapshot of each of the last N days (-1: all).", -1).optional(),
    weekly: count("Keep the newest snapshot of each of the last N weeks (-1: all).", -1).optional(),
    monthly: count("Keep the newest snapshot of each of the last N months (-1: all).", -1).optional(),
    yearly: count("Keep the newest snapshot of each of the last N years (-1: all).", -1).optional(),
    within: duration("Keep every snapshot within this duration of the newest.").optional(),
    "within-hourly": duration("Keep one snapshot per hour within this duration of the newest.").optional(),
    "within-daily": duration("Keep one snapshot per day within this duration of the newest.").optional(),
    "within-weekly": duration("Keep one snapshot per week within this duration of the newest.").optional(),
    "within-monthly": duration("Keep one snapshot per month within this duration of the newest.").optional(),
    "within-yearly": duration("Keep one snapshot per year within this duration of the newest.").optional(),
    tags: list("Keep snapshots with any of these tags (\"a,b\" means both).").optional(),
    "max-age": duration("Limit: remove snapshots older than this, whatever a keep rule says.").optional(),
    "max-count": count("Limit: keep at most this many snapshots per group (newest first).").optional(),
    "time-zone": timeZone().optional(),
    "allow-empty": z.boolean().optional().meta({ description: "Allow removing the newest snapshot of a group too." }),
    description: z.string().optional(),
  })
  .meta({ description: "A retention policy: keep rules (any keeps), then limits (max-age, max-count: whichever is stricter)." });
