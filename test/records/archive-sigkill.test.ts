// Crash safety of record archiving: a child process runs archiveRecords and is SIGKILLed at each
// step of the run (and at random moments); then a run that is left alone must leave every
// original record exactly once in the live file or an archive, and no journal, lock or
// temporary file behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { archiveRecords, type ArchiveStep } from "../../src/records/archive-records.js";
import { tempDir } from "../rotate/tree-helpers.js";
import { assertUnion, jsonText, makeRecords, ndjsonText, type Rec } from "./record-helpers.js";

const NOW = "2026-11-20T12:00:00Z";
const CHILD = new URL("./archive-child.js", import.meta.url).pathname;
const STEPS: ArchiveStep[] = ["locked", "journal-written", "archive-staged", "archive-published", "live-staged", "live-replaced", "journal-removed"];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the child; with `killAfterMs`, SIGKILLs it that long after it has taken the lock. */
function runChild(file: string, archiveDir: string, dieAt: string, format: string, killAfterMs?: number): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CHILD, file, archiveDir, NOW, dieAt, format], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdout.on("data", (d: Buffer) => {
      if (killAfterMs !== undefined && timer === undefined && d.toString().includes("locked")) timer = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
    });
    p.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** The run after a crash, in this process: it must finish the interrupted one and its own. */
async function runAlone(file: string, archiveDir: string, format: "json" | "ndjson"): Promise<void> {
  await archiveRecords(file, { timeField: "ts", olderThan: "365d", archiveDir, now: new Date(NOW), format });
}

async function setup(format: "json" | "ndjson", n: number): Promise<{ dir: string; file: string; archives: string; original: Rec[]; cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir("coffer-records-kill-");
  const original = makeRecords(n, new Date(NOW));
  const file = join(dir, format === "json" ? "messages.json" : "messages.ndjson");
  await writeFile(file, format === "json" ? jsonText(original) : ndjsonText(original));
  return { dir, file, archives: join(dir, "archives"), original, cleanup };
}

async function assertTidy(dir: string, archives: string, what: string): Promise<void> {
  const left = (await readdir(dir)).filter((n) => n !== "archives" && !/^messages\.(nd)?json$/.test(n));
  assert.deepEqual(left, [], `${what}: journal, lock or temporary files left`);
  assert.deepEqual((await readdir(archives)).filter((n) => n.startsWith(".")), [], `${what}: temporary archive files left`);
}

for (const format of ["json", "ndjson"] as const) {
  test(`${format}: SIGKILL at every step, then a run left alone: every record exactly once in live ∪ archives`, async () => {
    for (const step of STEPS) {
      const t = await setup(format, 400);
      try {
        const killed = await runChild(t.file, t.archives, step, format);
        assert.equal(killed.signal, "SIGKILL", `${step}: the child was to die there (${killed.stderr})`);
        await runAlone(t.file, t.archives, format);
        await assertUnion(t.file, t.archives, t.original, `killed at ${step}`);
        await assertTidy(t.dir, t.archives, `killed at ${step}`);
      } finally {
        await t.cleanup();
      }
    }
  });

  test(`${format}: killed twice (at a step, then while the next run finishes the first), then left alone: nothing lost or doubled`, async () => {
    for (const [first, second] of [
      ["archive-published", "recovery-rewritten"],
      ["live-staged", "recovery-rewritten"],
      ["archive-published", "archive-published"],
      ["journal-written", "live-replaced"],
      ["live-replaced", "journal-written"],
    ] as const) {
      const t = await setup(format, 800);
      try {
        assert.equal((await runChild(t.file, t.archives, first, format)).signal, "SIGKILL");
        // The second run dies at `second` if it gets there (a finished first run leaves nothing to do).
        const again = await runChild(t.file, t.archives, second, format);
        assert.ok(again.signal === "SIGKILL" || again.code === 0, `${first} then ${second}: ${again.stderr}`);
        await runAlone(t.file, t.archives, format);
        await assertUnion(t.file, t.archives, t.original, `killed at ${first}, then ${second}`);
        await assertTidy(t.dir, t.archives, `killed at ${first}, then ${second}`);
      } finally {
        await t.cleanup();
      }
    }
  });
}

test("SIGKILL at random moments of a run over 30,000 records, then a run left alone: nothing lost or doubled", async () => {
  let died = 0;
  for (let i = 0; i < 8; i++) {
    const format = i % 2 === 0 ? "json" : "ndjson";
    const t = await setup(format, 30_000);
    try {
      const r = await runChild(t.file, t.archives, "", format, Math.floor(Math.random() * 300));
      if (r.signal === "SIGKILL") died++;
      else assert.equal(r.code, 0, r.stderr);
      await runAlone(t.file, t.archives, format);
      await assertUnion(t.file, t.archives, t.original, `random kill ${i}`);
      await assertTidy(t.dir, t.archives, `random kill ${i}`);
    } finally {
      await t.cleanup();
    }
  }
  assert.ok(died > 0, "no run was killed mid-way");
});
