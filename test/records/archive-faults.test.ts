// Faults while archiving records: a full disk, a read-only folder, the live file replaced in
// the middle of a run, a name collision, a clock that went back. Each ends with a clear error or
// warning and every record still in the live file or an archive, exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import { archiveRecords } from "../../src/records/archive-records.js";
import type { RecordsWarning } from "../../src/records/records-warning.js";
import { faultyFs, sysError } from "../rotate/fault-fs.js";
import { tempDir } from "../rotate/tree-helpers.js";
import { fillDisk, mountTmpfs, needsRoot, remountReadOnly, umount } from "./mount-helpers.js";
import { assertUnion, jsonText, makeRecords, type Rec } from "./record-helpers.js";

const NOW = new Date("2026-11-20T12:00:00Z");
const opts = { timeField: "ts", olderThan: "365d", archiveDir: "archives", now: NOW };

async function liveDir(dir: string, n = 500): Promise<{ file: string; original: Rec[]; text: string }> {
  const original = makeRecords(n, NOW);
  const file = join(dir, "m.json");
  const text = jsonText(original);
  await writeFile(file, text);
  return { file, original, text };
}

test("full disk (a tmpfs filled up) while writing the archive: NO_SPACE, nothing was changed, no journal or temporary file", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "2m")) return void (await cleanup());
  try {
    const original = makeRecords(3000, NOW).map((r) => ({ ...r, text: r.text + "y".repeat(200) }));
    const file = join(mnt, "m.json");
    const text = jsonText(original);
    await writeFile(file, text);
    await mkdir(join(mnt, "archives"));
    fillDisk(mnt, 160);
    await assert.rejects(archiveRecords(file, opts), (e) => isCofferError(e, "NO_SPACE") && /nothing was changed: m\.json holds all its records/.test(e.message));
    assert.equal(await readFile(file, "utf8"), text);
    assert.deepEqual((await readdir(mnt)).sort(), [".filler", "archives", "m.json"]);
    assert.deepEqual(await readdir(join(mnt, "archives")), []);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("no space for the new live file (injected ENOSPC): the archive is taken back, NO_SPACE, nothing was changed", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const { file, original, text } = await liveDir(dir);
    const fs = faultyFs({ beforeWrite: (p) => { if (basename(p).startsWith(".m.json.coffer-tmp-")) throw sysError("ENOSPC"); } });
    await assert.rejects(archiveRecords(file, { ...opts, fs }), (e) => isCofferError(e, "NO_SPACE") && /nothing was changed/.test(e.message));
    assert.equal(await readFile(file, "utf8"), text);
    assert.deepEqual(await readdir(join(dir, "archives")), []);
    assert.deepEqual((await readdir(dir)).sort(), ["archives", "m.json"]);
    await assertUnion(file, join(dir, "archives"), original, "after ENOSPC");
  } finally {
    await cleanup();
  }
});

test("a read-only archive folder (a tmpfs remounted ro): a clear error naming it, nothing was changed", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  const arch = join(dir, "archives");
  await mkdir(arch);
  if (!mountTmpfs(arch, "1m")) return void (await cleanup());
  try {
    const { file, text } = await liveDir(dir);
    assert.ok(remountReadOnly(arch));
    await assert.rejects(archiveRecords(file, opts), (e) => isCofferError(e, "IO") && /read-only file system/.test(e.message) && /nothing was changed/.test(e.message));
    assert.equal(await readFile(file, "utf8"), text);
    assert.deepEqual((await readdir(dir)).sort(), ["archives", "m.json"]);
  } finally {
    umount(arch);
    await cleanup();
  }
});

test("a read-only folder holding the live file: the lock cannot be taken, a clear error, nothing changed", { skip: needsRoot }, async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  if (!mountTmpfs(mnt, "1m")) return void (await cleanup());
  try {
    const { file, text } = await liveDir(mnt);
    assert.ok(remountReadOnly(mnt));
    await assert.rejects(archiveRecords(file, { ...opts, archiveDir: join(dir, "archives") }), (e) => isCofferError(e, "IO") && /read-only file system/.test(e.message));
    assert.equal(await readFile(file, "utf8"), text);
  } finally {
    umount(mnt);
    await cleanup();
  }
});

test("the live file replaced by another file in the middle of a run: the run is undone and says so; the new file is untouched", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const { file } = await liveDir(dir);
    const replacement = makeRecords(600, NOW).map((r) => ({ ...r, id: r.id + 10_000 }));
    await assert.rejects(
      archiveRecords(file, {
        ...opts,
        onStep: async (s) => {
          if (s !== "archive-published") return;
          await writeFile(join(dir, "new.json"), jsonText(replacement));
          await rename(join(dir, "new.json"), file);
        },
      }),
      (e) => isCofferError(e, "IO") && /it was replaced by another file.*Nothing was changed/.test(e.message),
    );
    assert.equal(await readFile(file, "utf8"), jsonText(replacement));
    assert.deepEqual(await readdir(join(dir, "archives")), []);
    const res = await archiveRecords(file, opts);
    assert.ok(res.moved > 0);
    await assertUnion(file, join(dir, "archives"), replacement, "after the replaced file was archived");
  } finally {
    await cleanup();
  }
});

test("name collision: a run in the same second gets _1; a name taken just before the link moves on, journal and all", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const { file, original } = await liveDir(dir, 400);
    const first = await archiveRecords(file, { ...opts, olderThan: "390d" });
    const second = await archiveRecords(file, opts);
    assert.equal(second.archive, (first.archive as string).replace(/\.json$/, "_1.json"));
    const more: Rec[] = makeRecords(400, NOW).map((r) => (r.ts === undefined ? { id: r.id + 1000, text: r.text } : { ...r, id: r.id + 1000, ts: "2000-01-01T00:00:00Z" }));
    await writeFile(file, jsonText([...(JSON.parse(await readFile(file, "utf8")) as Rec[]), ...more]));
    let raced = false;
    const fs = faultyFs({ before: { link: (args) => void (!raced && ((raced = true), writeFileSync(String(args[1]), "{}"))) } });
    const third = await archiveRecords(file, { ...opts, fs });
    assert.equal(third.archive, (first.archive as string).replace(/\.json$/, "_3.json"));
    assert.equal(await readFile((first.archive as string).replace(/\.json$/, "_2.json"), "utf8"), "{}", "the foreign file is untouched");
    await rename((first.archive as string).replace(/\.json$/, "_2.json"), join(dir, "foreign"));
    await assertUnion(file, join(dir, "archives"), [...original, ...more], "after collisions");
  } finally {
    await cleanup();
  }
});

test("a clock that went back: an archive named after now is reported, the new one gets a name of its own, nothing is overwritten", async () => {
  const { dir, cleanup } = await tempDir("coffer-records-");
  try {
    const { file, original } = await liveDir(dir);
    const later = new Date("2027-06-01T00:00:00Z");
    const first = await archiveRecords(file, { ...opts, now: later });
    await writeFile(file, jsonText([...(JSON.parse(await readFile(file, "utf8")) as Rec[]), { id: 9999, ts: "2001-01-01T00:00:00Z", text: "late" }]));
    const warnings: RecordsWarning[] = [];
    const res = await archiveRecords(file, { ...opts, onWarning: (w) => warnings.push(w) });
    assert.ok(warnings.some((w) => w.code === "CLOCK_BACKWARDS" && /clock went back/.test(w.message)));
    assert.notEqual(res.archive, first.archive);
    await assertUnion(file, join(dir, "archives"), [...original, { id: 9999, ts: "2001-01-01T00:00:00Z", text: "late" }], "after the clock went back");
  } finally {
    await cleanup();
  }
});
