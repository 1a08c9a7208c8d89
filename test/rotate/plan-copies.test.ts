import { test } from "node:test";
import assert from "node:assert/strict";
import type { CopyFile } from "../../src/rotate/find-copies.js";
import { planCopies } from "../../src/rotate/plan-copies.js";
import { parseCopyName } from "../../src/rotate/rotated-name.js";
import { resolveRule, type RotateRule } from "../../src/rotate/rule.js";

const DAY = 86_400_000;
const now = new Date("2026-11-20T12:00:00Z");
const dirs = { backups: "/l/backups", archive: "/l/archive" };

function copies(rule: RotateRule, list: [dir: "backups" | "archive", name: string, daysOld: number][]): CopyFile[] {
  const r = resolveRule(rule);
  return list.map(([d, name, days]) => {
    const parsed = parseCopyName("app.log", name, r);
    if (!parsed) throw new Error(name);
    return { path: `/l/${d}/${name}`, dir: `/l/${d}`, name, parsed, mtime: new Date(now.getTime() - days * DAY), size: 1 };
  });
}

const day = (n: number): string => new Date(now.getTime() - n * DAY).toISOString().slice(0, 10);

test("the seeds' protocol: 7 in backups, older ones archived and compressed after 7 days, deleted after 30 days or beyond 7", () => {
  const rule: RotateRule = { files: ["/l/app.log"], timeZone: "UTC" };
  const list = copies(rule, [
    ...Array.from({ length: 9 }, (_, i) => ["backups", `app.log.${day(i + 1)}`, i + 1] as ["backups", string, number]),
    ["archive", `app.log.${day(12)}.gz`, 12],
    ["archive", `app.log.${day(15)}.gz`, 15],
    ["archive", `app.log.${day(17)}.gz`, 17],
    ["archive", `app.log.${day(20)}.gz`, 20],
    ["archive", `app.log.${day(22)}.gz`, 22],
    ["archive", `app.log.${day(25)}.gz`, 25],
    ["archive", `app.log.${day(40)}.gz`, 40],
  ]);
  const steps = planCopies(list, resolveRule(rule), dirs, now);
  const brief = steps.map((s) => `${s.kind} ${s.path.replace("/l/", "")}${s.to ? ` -> ${s.to.replace("/l/", "")}` : ""}: ${s.reasons.join("; ")}`);
  assert.deepEqual(brief, [
    `delete archive/app.log.${day(40)}.gz: archive-max-age 30d; archive-keep 7`,
    `delete archive/app.log.${day(25)}.gz: archive-keep 7`,
    `move backups/app.log.${day(8)} -> archive/app.log.${day(8)}: beyond keep 7; within archive-max-age 30d; within archive-keep 7`,
    `move backups/app.log.${day(9)} -> archive/app.log.${day(9)}: beyond keep 7; within archive-max-age 30d; within archive-keep 7`,
    `compress backups/app.log.${day(7)}: older than compress-after 7d`,
    `compress archive/app.log.${day(8)}: older than compress-after 7d`,
    `compress archive/app.log.${day(9)}: older than compress-after 7d`,
  ]);
});

test("order comes from the names (date then counter), not from times that went backwards", () => {
  const rule: RotateRule = { files: ["/l/app.log"], keep: 2, archiveDir: null, compress: "none", timeZone: "UTC" };
  // The newest copy by name has the oldest time (written while the clock was behind).
  const list = copies(rule, [
    ["backups", `app.log.${day(1)}.1`, 30],
    ["backups", `app.log.${day(1)}`, 1],
    ["backups", `app.log.${day(2)}`, 2],
  ]);
  const steps = planCopies(list, resolveRule(rule), dirs, now);
  assert.deepEqual(steps.map((s) => [s.kind, s.path]), [["delete", `/l/backups/app.log.${day(2)}`]]);
});

test("delay-compress leaves the newest copy uncompressed; no archive dir means deletion beyond keep", () => {
  const rule: RotateRule = { files: ["/l/app.log"], naming: "numbered", keep: 3, archiveDir: null, compressAfter: "0h", delayCompress: true, backupsDir: "." };
  const list = copies(rule, [["backups", "app.log.1", 0], ["backups", "app.log.2", 1], ["backups", "app.log.3.gz", 2], ["backups", "app.log.4.gz", 3]]);
  const steps = planCopies(list, resolveRule(rule), { backups: "/l/backups", archive: undefined }, now);
  assert.deepEqual(steps, [
    { kind: "delete", path: "/l/backups/app.log.4.gz", reasons: ["beyond keep 3", "no archive-dir"] },
    { kind: "compress", path: "/l/backups/app.log.2", reasons: ["compress", "not the newest (delay-compress)"] },
  ]);
});
