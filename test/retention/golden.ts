// Golden files of the policy engine: test/retention/golden/<case>.json holds a case's input
// (items, policy, now) and the decisions expected, one item per line so a diff reads well.
// UPDATE_GOLDEN=1 rewrites them from the current engine; review the diff before committing.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyPolicy, CalendarBuckets, type Policy } from "../../src/retention/index.js";
import type { CaseItem, GoldenCase } from "./cases.js";

export const UPDATE = process.env.UPDATE_GOLDEN === "1";

export interface GoldenDecision {
  id: string;
  time: string;
  /** Wall-clock time in the policy's zone, for the reader. */
  local: string;
  group?: string;
  keep: boolean;
  reasons: string[];
}

export interface GoldenFile {
  description: string;
  now: string;
  policy: Policy;
  items: CaseItem[];
  expected: GoldenDecision[];
}

/** The source tree's golden directory (tests run from a build directory). */
export function goldenDir(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "test", "retention"))) return join(d, "test", "retention", "golden");
  }
  throw new Error("test/retention not found above the test file");
}

/** Runs the engine on a case's own input. */
export function run(c: { now: string; policy: Policy; items: CaseItem[] }): GoldenDecision[] {
  const items = c.items.map((i) => ({ ...i, time: new Date(i.time) }));
  const calendar = new CalendarBuckets(c.policy.timeZone);
  return applyPolicy(items, c.policy, new Date(c.now)).decisions.map((d) => ({
    id: d.item.id,
    time: d.item.time.toISOString(),
    local: calendar.format(d.item.time),
    ...(d.item.group !== undefined ? { group: d.item.group } : {}),
    keep: d.keep,
    reasons: d.reasons,
  }));
}

export function render(f: GoldenFile): string {
  const list = (xs: unknown[]) => (xs.length === 0 ? "[]" : `[\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(",\n")}\n  ]`);
  return (
    `{\n  "description": ${JSON.stringify(f.description)},\n  "now": ${JSON.stringify(f.now)},\n  "policy": ${JSON.stringify(f.policy)},\n` +
    `  "items": ${list(f.items)},\n  "expected": ${list(f.expected)}\n}\n`
  );
}

export function readGolden(name: string): GoldenFile {
  return JSON.parse(readFileSync(join(goldenDir(), `${name}.json`), "utf8")) as GoldenFile;
}

export function writeGolden(c: GoldenCase): void {
  mkdirSync(goldenDir(), { recursive: true });
  const f: GoldenFile = { description: c.description, now: c.now, policy: c.policy, items: c.items, expected: run(c) };
  writeFileSync(join(goldenDir(), `${c.name}.json`), render(f));
}

export function goldenNames(): string[] {
  return readdirSync(goldenDir())
    .filter((n) => n.endsWith(".json"))
    .map((n) => n.slice(0, -".json".length))
    .sort();
}
