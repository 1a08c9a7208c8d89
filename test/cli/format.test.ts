import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatDuration, formatIsoTime, formatLocalTime, formatRate, renderTable, truncateStart } from "../../src/cli/format.js";

test("formatBytes uses binary units with one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1.2 * 1024 * 1024), "1.2 MiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(formatBytes(1024 * 1024 - 1), "1.0 MiB"); // not "1024.0 KiB"
  assert.equal(formatBytes(-2048), "-2.0 KiB");
});

test("formatRate", () => {
  assert.equal(formatRate(12.3 * 1024 * 1024), "12.3 MiB/s");
});

test("formatDuration loses precision as it grows", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(4_250), "4.2s");
  assert.equal(formatDuration(42_000), "42s");
  assert.equal(formatDuration(192_000), "3m12s");
  assert.equal(formatDuration(3_720_000), "1h02m");
  assert.equal(formatDuration(2 * 86_400_000 + 3 * 3_600_000), "2d03h");
});

test("time formatting", () => {
  const d = new Date(2026, 10, 20, 14, 3, 7);
  assert.equal(formatLocalTime(d), "2026-11-20 14:03:07");
  assert.equal(formatIsoTime(new Date(Date.UTC(2026, 10, 20, 1, 2, 3, 4))), "2026-11-20T01:02:03.004Z");
});

test("renderTable aligns columns, right-aligns numbers, leaves no trailing spaces", () => {
  const text = renderTable(
    [{ header: "ID" }, { header: "Size", align: "right" }, { header: "Paths" }],
    [
      ["1a2b3c4d", "1.2 MiB", "/home"],
      ["ffee", "12 B", ""],
    ],
  );
  assert.equal(
    text,
    ["ID           Size  Paths", "------------------------", "1a2b3c4d  1.2 MiB  /home", "ffee         12 B"].join("\n") + "\n",
  );
});

test("truncateStart keeps the end of a path", () => {
  assert.equal(truncateStart("/a/b/c/file.txt", 9), "…file.txt");
  assert.equal(truncateStart("short", 9), "short");
});
