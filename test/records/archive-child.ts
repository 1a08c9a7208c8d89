// A run of archiveRecords in its own process, for the SIGKILL tests:
// argv = file, archive dir, ISO time, step to die at ("" = none), format.
import { archiveRecords, type ArchiveStep } from "../../src/records/archive-records.js";

const [file, archiveDir, at, dieAt, format] = process.argv.slice(2) as [string, string, string, string, string];
await archiveRecords(file, {
  timeField: "ts",
  olderThan: "365d",
  archiveDir,
  now: new Date(at),
  format: format as "json" | "ndjson",
  onStep: (s: ArchiveStep) => {
    if (s === dieAt) process.kill(process.pid, "SIGKILL");
    // The parent of a random kill starts its timer once the run has the lock.
    if (s === "locked") process.stdout.write("locked\n");
  },
});
