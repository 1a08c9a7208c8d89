// Record files for the archiving tests, and the union check: every original record exactly once
// across the live file and the archives.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface Rec {
  id: number;
  ts?: string;
  text: string;
}

/** `n` records, one a day back from `now`: ids 0…n-1, every 10th without a time. */
export function makeRecords(n: number, now: Date): Rec[] {
  return Array.from({ length: n }, (_, i) => {
    const r: Rec = { id: i, text: `message ${i} ${"x".repeat(i % 7)}` };
    if (i % 10 !== 9) r.ts = new Date(now.getTime() - (n - i) * 86_400_000).toISOString();
    return r;
  });
}

export function jsonText(recs: readonly Rec[], indent = 2): string {
  return JSON.stringify(recs, null, indent) + "\n";
}

export function ndjsonText(recs: readonly Rec[]): string {
  return recs.map((r) => JSON.stringify(r) + "\n").join("");
}

export async function liveRecords(file: string): Promise<Rec[]> {
  const text = await readFile(file, "utf8");
  if (file.endsWith(".ndjson")) return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Rec);
  return JSON.parse(text) as Rec[];
}

export async function archivedRecords(dir: string): Promise<{ recs: Rec[]; files: string[] }> {
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json") && !n.startsWith("."));
  } catch {
    // no archive folder yet
  }
  const recs: Rec[] = [];
  for (const n of names.sort()) {
    const doc = JSON.parse(await readFile(join(dir, n), "utf8")) as { metadata: { total_records: number }; records: Rec[] };
    assert.equal(doc.metadata.total_records, doc.records.length, `${n}: total_records`);
    recs.push(...doc.records);
  }
  return { recs, files: names };
}

/** Live ∪ archives = the original records, each exactly once. */
export async function assertUnion(file: string, archiveDir: string, original: readonly Rec[], what: string): Promise<void> {
  const live = await liveRecords(file);
  const { recs } = await archivedRecords(archiveDir);
  const all = [...live, ...recs].sort((a, b) => a.id - b.id);
  const ids = all.map((r) => r.id);
  const dup = ids.filter((id, i) => ids[i - 1] === id);
  assert.deepEqual(dup, [], `${what}: records in both the live file and an archive (or twice)`);
  assert.deepEqual(all, [...original].sort((a, b) => a.id - b.id), `${what}: the union differs from the original`);
}
