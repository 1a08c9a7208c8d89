import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseFormat, parseRecordText } from "../../src/records/record-file.js";
import { getField, parseRecordTime } from "../../src/records/record-time.js";

const keepOdd = (i: number): boolean => i % 2 === 1;

test("JSON rebuild cuts records out of the original text: layouts, nested brackets in strings, BOM, none left", () => {
  const cases: [string, string | undefined, (i: number) => boolean, string][] = [
    ["[1,2,3,4]", undefined, keepOdd, "[2,4]"],
    ["[ 1 , 2 ]\n", undefined, () => false, "[]\n"],
    ["[\n  {\"a\": \"]\\\"[\"},\n  {\"b\": [1, {\"c\": []}]},\n  3\n]\n", undefined, keepOdd, "[\n  {\"b\": [1, {\"c\": []}]}\n]\n"],
    ["\uFEFF[1,\n 2]", undefined, (i) => i === 0, "\uFEFF[1]"],
    ["{\"x\": [9], \"k\": [\n\t1,\n\t2\n], \"y\": {\"k\": 0}}", "k", keepOdd, "{\"x\": [9], \"k\": [\n\t2\n], \"y\": {\"k\": 0}}"],
    ["{\"k\": [], \"z\": 1}", "k", () => true, "{\"k\": [], \"z\": 1}"],
    ["[{\"s\":\"a,b\"}]", undefined, () => true, "[{\"s\":\"a,b\"}]"],
  ];
  for (const [text, key, keep, want] of cases) assert.equal(parseRecordText(text, "json", key).rebuild(keep), want, JSON.stringify(text));
});

test("JSON append adds records in the file's layout", () => {
  const doc = parseRecordText("[\n    {\n        \"a\": 1\n    }\n]\n", "json", undefined);
  assert.equal(doc.append([doc.serialize({ b: 2 })]), "[\n    {\n        \"a\": 1\n    },\n    {\n        \"b\": 2\n    }\n]\n");
  const inline = parseRecordText("[1, 2]", "json", undefined);
  assert.equal(inline.append([inline.serialize({ c: 3 })]), "[1, 2, {\"c\":3}]");
  const empty = parseRecordText("{\"k\": []}", "json", "k");
  assert.equal(empty.append([empty.serialize(1)]), "{\"k\": [1]}");
});

test("NDJSON keeps blank and broken lines, CRLF and a last line without a newline", () => {
  const doc = parseRecordText("{\"a\":1}\r\n\nnot json\n{\"a\":2}\n{\"a\":3}", "ndjson", undefined);
  assert.deepEqual(doc.values, [{ a: 1 }, undefined, { a: 2 }, { a: 3 }]);
  assert.equal(doc.rebuild((i) => i !== 0 && i !== 3), "\nnot json\n{\"a\":2}\n");
  assert.equal(doc.append(["{\"a\":4}"]), "{\"a\":1}\r\n\nnot json\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n");
});

test("format detection: by extension, then by content", () => {
  assert.equal(chooseFormat("x.jsonl", "[]", "auto", undefined), "ndjson");
  assert.equal(chooseFormat("x.json", "", "auto", undefined), "json");
  assert.equal(chooseFormat("x.log", "[1]", "auto", undefined), "json");
  assert.equal(chooseFormat("x.log", "{\"a\":1}\n{\"a\":2}\n", "auto", undefined), "ndjson");
  assert.equal(chooseFormat("x.log", "{\"a\":1}\n", "auto", undefined), "ndjson");
  assert.equal(chooseFormat("x.txt", "{\"k\":[]}", "auto", "k"), "json");
});

test("record times: ISO, the space form, epoch seconds and milliseconds (numbers or digits); anything else is none", () => {
  assert.equal(parseRecordTime("2025-12-17T12:00:00Z")?.toISOString(), "2025-12-17T12:00:00.000Z");
  assert.equal(parseRecordTime("2025-12-17 12:00:00")?.getTime(), new Date(2025, 11, 17, 12).getTime());
  assert.equal(parseRecordTime(1_700_000_000)?.toISOString(), "2023-11-14T22:13:20.000Z");
  assert.equal(parseRecordTime("1700000000000")?.toISOString(), "2023-11-14T22:13:20.000Z");
  for (const bad of ["yesterday", "", null, true, {}, [], "2025-13-45", Number.NaN, "12/17/2025"]) assert.equal(parseRecordTime(bad), undefined, JSON.stringify(bad));
  assert.equal(getField({ a: { b: { c: 5 } } }, ["a", "b", "c"]), 5);
  assert.equal(getField({ a: [1] }, ["a", "0"]), undefined);
  assert.equal(getField(null, ["a"]), undefined);
});
