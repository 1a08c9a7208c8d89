/**
 * Building blocks of the schema: value types that carry their own check and description, so
 * one definition gives the validation message and the JSON Schema an editor shows.
 */
import { z } from "zod";
import { checkCron, checkDuration, checkSize, checkSizeOrPercent, checkSpan, checkTimeOfDay, checkTimeZone } from "./values.js";

/** A string checked by `check` (undefined = fine, else "problem; hint"). */
function checked(check: (v: string) => string | undefined, description: string, extra: Record<string, unknown> = {}) {
  return z
    .string()
    .meta({ description, ...extra })
    .superRefine((v, ctx) => {
      const problem = check(v);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: v });
    });
}

export const duration = (description: string) =>
  checked(checkDuration, `${description} A calendar duration: 30d, 2w, 1y6m, 12h (units y, m = months, w, d, h).`, {
    pattern: "^(\\d+[ymwdh])+$",
    examples: ["7d", "30d", "1y"],
  });

export const span = (description: string) =>
  checked(checkSpan, `${description} A time span: 90s, 30min, 2h, 1h30min, 1d.`, { pattern: "^(\\d+(s|min|h|d))+$", examples: ["30min", "2h"] });

export const timeOfDay = () => checked(checkTimeOfDay, "A time of day on a 24-hour clock, HH:MM.", { pattern: "^\\d{1,2}:\\d{2}$", examples: ["02:00"] });

export const timeZone = (description = "IANA time zone for calendar rules; default the machine's.") =>
  checked(checkTimeZone, description, { examples: ["UTC", "Europe/Berlin"] });

export const cron = () =>
  checked(checkCron, "A cron expression: minute hour day-of-month month day-of-week (a 6th leading field is seconds).", { examples: ["0 2 * * *", "30 1 * * mon"] });

/** Bytes: a number or text such as 500M, 1G. */
export const size = (description: string) =>
  z
    .union([z.number().min(0), z.string()])
    .meta({ description: `${description} Bytes, or a number with k, M, G or T: 500M, 1G.`, examples: ["5M", "1G"] })
    .superRefine((v, ctx) => {
      const problem = checkSize(v);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: v });
    });

export const sizeOrPercent = (description: string) =>
  z
    .union([z.number().min(0), z.string()])
    .meta({ description: `${description} A size (1G) or a percentage of the disk (10%).`, examples: ["1G", "10%"] })
    .superRefine((v, ctx) => {
      const problem = checkSizeOrPercent(v);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem, input: v });
    });

/** A list of text; a single value may be written without the list. */
export const list = (description: string) => z.union([z.string(), z.array(z.string())]).meta({ description });

export const nonEmptyText = (description: string) => z.string().min(1).meta({ description });

/** A command: one string run by the shell (sh -c), or a list run directly (program and arguments). */
export const commandLine = (description: string) =>
  z.union([z.string().min(1), z.array(z.string()).min(1)]).meta({ description: `${description} A string runs through sh -c; a list runs the program directly.` });

export const count = (description: string, min = 0) => z.number().int().min(min).meta({ description });

/** Environment variables for a command. */
export const envMap = () => z.record(z.string(), z.string()).meta({ description: "Environment variables added for the command." });

export function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === "string" ? [v] : v;
}
