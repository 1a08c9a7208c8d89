import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { recordsCommand } from "../../src/cli/commands/records.js";
import { runCli } from "../../src/cli/main.js";
import { fakeIO } from "../cli/fake-io.js";
import { tempDir } from "../rotate/tree-helpers.js";
import { jsonText, makeRecords } from "./record-helpers.js";

const NOW = new Date("2026-11-20T12:00:00Z");

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIO({ clock: () => NOW });
  const code = await runCli(argv, io, [recordsCommand]);
  return { code, out: io.out(), err: io.err() };
}

test("coffer records archive: moves old records, prints what it did, warns about records without a time; --dry-run and --json", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "sent_messages.json");
    await writeFile(file, JSON.stringify({ messages: makeRecords(400, NOW) }, null, 2));
    const arch = join(dir, "archives");
    const dry = await cli(["records", "archive", file, "--key", "messages", "--time-field", "ts", "--older-than", "365d", "--archive-dir", arch, "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /^dry run: would move 32 of 400 records of \S+sent_messages\.json to \S+archives\/sent_messages_archive_\d{8}_\d{6}\.json; 368 stay\n$/);
    assert.match(dry.err, /warning: 40 records of sent_messages\.json have no readable time in "ts"; they stay in the live file\./);
    const real = await cli(["records", "archive", file, "--key", "messages", "--time-field", "ts", "--archive-dir", arch, "--json"]);
    assert.equal(real.code, 0, real.err);
    const doc = JSON.parse(real.out) as { moved: number; archive: string };
    assert.equal(doc.moved, 32);
    assert.equal((JSON.parse(await readFile(doc.archive, "utf8")) as { records: unknown[] }).records.length, 32);
    const none = await cli(["records", "archive", file, "--key", "messages", "--time-field", "ts", "--archive-dir", arch]);
    assert.match(none.out, /^no record of \S+ is older than 365d/);
    const usage = await cli(["records", "archive", file]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--time-field/);
  } finally {
    await cleanup();
  }
});

test("coffer records prune: deletes archive files older than --max-age, says why; --dry-run deletes nothing", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    await writeFile(join(dir, "m_archive_20260101_000000.json"), "{}");
    await writeFile(join(dir, "m_archive_20261101_000000.json"), "{}");
    await writeFile(join(dir, "keep.json"), jsonText([]));
    const dry = await cli(["records", "prune", dir, "--max-age", "90d", "--dry-run"]);
    assert.equal(dry.code, 0, dry.err);
    assert.equal(dry.out, "would delete m_archive_20260101_000000.json (max-age 90d)\ndry run: 1 of 2 archive files would be deleted\n");
    assert.equal((await readdir(dir)).length, 3);
    const real = await cli(["records", "prune", dir]);
    assert.equal(real.out, "deleted m_archive_20260101_000000.json (max-age 90d)\n1 of 2 archive files deleted\n");
    assert.deepEqual((await readdir(dir)).sort(), ["keep.json", "m_archive_20261101_000000.json"]);
    const bad = await cli(["records", "prune", dir, "--max-age", "3 months"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /use 3m/);
  } finally {
    await cleanup();
  }
});
