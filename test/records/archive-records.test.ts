import { test } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { archiveRecords } from "../../src/records/archive-records.js";
import { pruneArchives } from "../../src/records/prune-archives.js";
import { appendRecords } from "../../src/records/records-lock.js";
import type { RecordsWarning } from "../../src/records/records-warning.js";
import { tempDir } from "../rotate/tree-helpers.js";
import { archivedRecords, assertUnion, jsonText, makeRecords, ndjsonText } from "./record-helpers.js";

const NOW = new Date("2026-11-20T12:00:00Z");

test("JSON array: records older than 365d move to {stem}_archive_{YYYYMMDD_HHMMSS}.json with metadata; the rest stay", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "sent_messages.json");
    const original = makeRecords(500, NOW);
    await writeFile(file, jsonText(original, 4));
    await chmod(file, 0o640);
    const warnings: RecordsWarning[] = [];
    const res = await archiveRecords(file, { timeField: "ts", olderThan: "365d", archiveDir: "archives", now: NOW, onWarning: (w) => warnings.push(w) });
    const old = original.filter((r) => r.ts !== undefined && Date.parse(r.ts) < Date.parse("2025-11-20T12:00:00Z"));
    assert.equal(res.moved, old.length);
    assert.equal(res.total, 500);
    assert.equal(res.noTime, 50);
    assert.deepEqual(warnings.map((w) => w.code), ["NO_TIME"]);
    assert.match(warnings[0]?.message ?? "", /^50 records of sent_messages\.json have no readable time in "ts"; they stay in the live file\.$/);
    const stamp = (() => {
      const p = (n: number): string => String(n).padStart(2, "0");
      return `${NOW.getFullYear()}${p(NOW.getMonth() + 1)}${p(NOW.getDate())}_${p(NOW.getHours())}${p(NOW.getMinutes())}${p(NOW.getSeconds())}`;
    })();
    assert.equal(res.archive, join(dir, "archives", `sent_messages_archive_${stamp}.json`));
    const doc = JSON.parse(await readFile(res.archive, "utf8")) as { metadata: Record<string, unknown>; records: unknown[] };
    assert.deepEqual(doc.metadata, {
      version: 1,
      archived_date: "2026-11-20T12:00:00.000Z",
      total_records: old.length,
      date_range: { oldest: old[0]?.ts, newest: old[old.length - 1]?.ts },
      source: "sent_messages.json",
      time_field: "ts",
      older_than: "365d",
      cutoff: res.cutoff.toISOString(),
    });
    assert.deepEqual(doc.records, old);
    // The live file: the same text with the moved records cut out (4-space indent kept).
    assert.equal(await readFile(file, "utf8"), jsonText(original.filter((r) => !old.includes(r)), 4));
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    await assertUnion(file, join(dir, "archives"), original, "after a run");
    assert.deepEqual((await readdir(dir)).sort(), ["archives", "sent_messages.json"], "no lock, journal or temporary file left");
    // Nothing older is left: a second run moves nothing and writes no archive.
    const again = await archiveRecords(file, { timeField: "ts", olderThan: "365d", archiveDir: "archives", now: NOW });
    assert.equal(again.archive, undefined);
    assert.equal((await readdir(join(dir, "archives"))).length, 1);
  } finally {
    await cleanup();
  }
});

test("a JSON object holding the records under a key: everything else stays byte for byte (key order, spacing, number spelling)", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "user.json");
    const text = [
      "{",
      '\t"user_id": "u1",  "score": 1.50,',
      '\t"messages": [',
      '\t\t{"id": 1, "meta": {"sent": "2020-01-01 10:00:00"}},',
      '\t\t{"id": 2, "meta": {"sent": "2026-11-01T00:00:00Z"}, "n": 1e3},',
      '\t\t{"id": 3, "meta": {"sent": 1262304000}}',
      "\t],",
      '\t"messages_seen": ["\\u00e9", 2]',
      "}",
    ].join("\n");
    await writeFile(file, text);
    const res = await archiveRecords(file, { timeField: "meta.sent", olderThan: "1y", key: "messages", archiveDir: join(dir, "a"), now: NOW });
    assert.equal(res.moved, 2);
    assert.equal(
      await readFile(file, "utf8"),
      ["{", '\t"user_id": "u1",  "score": 1.50,', '\t"messages": [', '\t\t{"id": 2, "meta": {"sent": "2026-11-01T00:00:00Z"}, "n": 1e3}', "\t],", '\t"messages_seen": ["\\u00e9", 2]', "}"].join("\n"),
    );
    const archived = await archivedRecords(join(dir, "a"));
    assert.deepEqual(archived.recs.map((r) => r.id), [1, 3]);
    assert.match(await readFile(join(dir, "a", archived.files[0] as string), "utf8"), /^\{\n\t"metadata"/, "the archive uses the live file's indentation");
    await assert.rejects(archiveRecords(file, { timeField: "t", olderThan: "1y", key: "nope", now: NOW }), (e) => isCofferError(e, "INVALID") && /no "nope" key/.test(e.message));
    await assert.rejects(archiveRecords(file, { timeField: "t", olderThan: "1y", now: NOW }), (e) => isCofferError(e, "INVALID") && /--key/.test(e.message));
  } finally {
    await cleanup();
  }
});

test("NDJSON: old lines move, the others (and a line that is not JSON) stay as they were", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "events.ndjson");
    const original = makeRecords(40, NOW).map((r) => ({ ...r, ts: r.ts ?? "" }));
    const lines = ndjsonText(original).split("\n");
    lines.splice(3, 0, "not json {", "");
    await writeFile(file, lines.join("\n"));
    const warnings: RecordsWarning[] = [];
    const res = await archiveRecords(file, { timeField: "ts", olderThan: "30d", archiveDir: join(dir, "arch"), now: NOW, onWarning: (w) => warnings.push(w) });
    assert.equal(res.format, "ndjson");
    assert.equal(res.noTime, 5);
    assert.match(warnings[0]?.message ?? "", /5 records .* \(1 not JSON at all\)/);
    const after = (await readFile(file, "utf8")).split("\n");
    assert.ok(after.includes("not json {"));
    assert.ok(after.includes(""));
    const live = after.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { ts: string });
    assert.ok(live.every((r) => r.ts === "" || Date.parse(r.ts) >= Date.parse("2026-10-20T12:00:00Z")));
    assert.equal(live.length + res.moved, original.length);
  } finally {
    await cleanup();
  }
});

test("--dry-run says what would move and changes nothing; bad arguments are clear errors", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "m.json");
    const text = jsonText(makeRecords(30, NOW));
    await writeFile(file, text);
    const res = await archiveRecords(file, { timeField: "ts", olderThan: "10d", archiveDir: "x", now: NOW, dryRun: true });
    assert.equal(res.dryRun, true);
    assert.ok(res.moved > 0 && res.archive !== undefined);
    assert.equal(await readFile(file, "utf8"), text);
    assert.deepEqual(await readdir(dir), ["m.json"]);
    await assert.rejects(archiveRecords(file, { timeField: "ts", olderThan: "10 days", now: NOW }), (e) => isCofferError(e, "INVALID") && /use 10d/.test(e.message));
    await assert.rejects(archiveRecords(file, { timeField: "a..b", olderThan: "10d", now: NOW }), (e) => isCofferError(e, "USAGE"));
    await assert.rejects(archiveRecords(join(dir, "none.json"), { timeField: "ts", olderThan: "10d", now: NOW }), (e) => isCofferError(e, "PATH_MISSING"));
    await writeFile(join(dir, "bad.json"), "[{]");
    await assert.rejects(archiveRecords(join(dir, "bad.json"), { timeField: "ts", olderThan: "10d", now: NOW }), (e) => isCofferError(e, "INVALID") && /bad\.json is not valid JSON .*nothing was changed/.test(e.message));
  } finally {
    await cleanup();
  }
});

test("the lock: a live holder of FILE.lock makes the run wait, then LOCKED; a stale one (dead pid) is taken over with a warning", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "m.json");
    await writeFile(file, jsonText(makeRecords(30, NOW)));
    await writeFile(`${file}.lock`, `${process.pid} ${hostname()} now\n`);
    await assert.rejects(archiveRecords(file, { timeField: "ts", olderThan: "10d", now: NOW, lockTimeoutMs: 100 }), (e) => isCofferError(e, "LOCKED") && /holds .*m\.json\.lock/.test(e.message));
    await writeFile(`${file}.lock`, `999999999 ${hostname()} then\n`);
    const warnings: RecordsWarning[] = [];
    const res = await archiveRecords(file, { timeField: "ts", olderThan: "10d", now: NOW, onWarning: (w) => warnings.push(w) });
    assert.ok(res.moved > 0);
    assert.deepEqual(warnings.map((w) => w.code), ["STALE_LOCK", "NO_TIME"]);
    assert.deepEqual((await readdir(dir)).sort(), ["archives", "m.json"]);
  } finally {
    await cleanup();
  }
});

test("a cooperating writer (appendRecords) during a run waits for the lock: its records are neither lost nor archived twice", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "m.json");
    const original = makeRecords(100, NOW);
    await writeFile(file, jsonText(original));
    let appended: Promise<void> | undefined;
    const extra = [{ id: 1000, ts: NOW.toISOString(), text: "new" }, { id: 1001, ts: "2000-01-01T00:00:00Z", text: "new but old" }];
    await archiveRecords(file, {
      timeField: "ts",
      olderThan: "30d",
      archiveDir: "a",
      now: NOW,
      onStep: async (s) => {
        if (s !== "archive-published") return;
        appended = appendRecords(file, extra, { timeoutMs: 10_000 });
        await new Promise((r) => setTimeout(r, 150));
      },
    });
    await appended;
    await assertUnion(file, join(dir, "a"), [...original, ...extra], "after a concurrent append");
    const text = await readFile(file, "utf8");
    assert.match(text, /\n  \{\n    "id": 1001,\n    "ts": "2000-01-01T00:00:00Z",\n    "text": "new but old"\n  \}\n\]\n$/, "appended in the file's layout");
  } finally {
    await cleanup();
  }
});

test("a writer that ignores the lock and appends mid-run: the run is undone (archive removed) and says so; nothing lost", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const file = join(dir, "events.ndjson");
    const original = makeRecords(100, NOW);
    await writeFile(file, ndjsonText(original));
    const extra = { id: 5000, ts: NOW.toISOString(), text: "rogue" };
    await assert.rejects(
      archiveRecords(file, {
        timeField: "ts",
        olderThan: "30d",
        archiveDir: "a",
        now: NOW,
        onStep: async (s) => {
          if (s === "live-staged") await writeFile(file, JSON.stringify(extra) + "\n", { flag: "a" });
        },
      }),
      (e) => isCofferError(e, "IO") && /changed while its records were archived: it was written to \(size \d+ → \d+ bytes\).*Nothing was changed/.test(e.message),
    );
    await assertUnion(file, join(dir, "a"), [...original, extra], "after an aborted run");
    assert.deepEqual((await readdir(join(dir, "a"))).length, 0);
    assert.deepEqual((await readdir(dir)).sort(), ["a", "events.ndjson"]);
    const res = await archiveRecords(file, { timeField: "ts", olderThan: "30d", archiveDir: "a", now: NOW });
    assert.ok(res.moved > 0);
    await assertUnion(file, join(dir, "a"), [...original, extra], "after the re-run");
  } finally {
    await cleanup();
  }
});

test("pruneArchives deletes archive files older than max-age by their name, with reasons; other files and future names stay", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    await mkdir(join(dir, "a"));
    const names = ["m_archive_20260101_000000.json", "m_archive_20260901_000000.json", "m_archive_20260901_000000_1.json", "m_archive_20271231_000000.json", "notes.json", "x_archive_20200101_000000.json"];
    for (const n of names) await writeFile(join(dir, "a", n), "{}");
    const warnings: RecordsWarning[] = [];
    const dry = await pruneArchives(join(dir, "a"), { maxAge: "90d", now: NOW, dryRun: true, stem: "m" });
    assert.deepEqual(dry.removed.map((p) => p.slice(dir.length + 3)), ["m_archive_20260101_000000.json"]);
    const res = await pruneArchives(join(dir, "a"), { maxAge: "90d", now: NOW, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(res.removed.map((p) => p.slice(dir.length + 3)).sort(), ["m_archive_20260101_000000.json", "x_archive_20200101_000000.json"]);
    assert.deepEqual(res.archives.filter((d) => !d.keep).map((d) => d.reasons), [["max-age 90d"], ["max-age 90d"]]);
    assert.deepEqual(warnings.map((w) => w.code), ["CLOCK_BACKWARDS"]);
    assert.deepEqual((await readdir(join(dir, "a"))).sort(), ["m_archive_20260901_000000.json", "m_archive_20260901_000000_1.json", "m_archive_20271231_000000.json", "notes.json"]);
  } finally {
    await cleanup();
  }
});
