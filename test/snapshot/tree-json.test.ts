import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonBytes } from "../../src/snapshot/tree-json.js";
import { encodeTree, type TreeNode } from "../../src/snapshot/tree.js";

const same = (v: unknown, what = JSON.stringify(v)): void => assert.deepEqual(jsonBytes(v), Buffer.from(JSON.stringify(v)), what);

/** Strings JSON.stringify escapes or writes as multibyte UTF-8. */
const STRINGS = [
  "",
  "plain",
  'quote " and backslash \\',
  "tab\tnewline\nreturn\rback\bfeed\f nul\u0000 unit\u001f del\u007f",
  "é ü ß € 日本",
  "emoji 😀 pair",
  "lone high \ud800 end",
  "lone low \udc00",
  "\ud83d",
  "reversed \ude00\ud83d",
  "\u2028\u2029 separators",
  "\ufeffbom",
  "x".repeat(100_000),
];

test("jsonBytes writes what JSON.stringify does, byte for byte", () => {
  for (const s of STRINGS) {
    same(s);
    same({ [s]: s });
  }
  for (const n of [0, 7, 10, 99, 1234567890, 2 ** 53 - 1, 2 ** 53, 2 ** 64, -1, -0, 0.5, 1e21, 1e-7, -1.5e300, Number.NaN, Infinity, -Infinity]) same(n, String(n));
  same([true, false, null, undefined, () => 1, Symbol("s"), [], {}, [[1], { a: [] }]]);
  // Integer-like keys come first, ascending; the others as added; undefined, functions and symbols are left out.
  same({ b: 1, 2: "two", a: undefined, 1: "one", f: () => 1, s: Symbol("x"), z: null, "10": 10, "-1": -1, "01": 1 });
  const proto = Object.create({ inherited: 1 }) as Record<string, unknown>;
  proto.own = 2;
  same(proto);
  same(Object.assign(Object.create(null) as object, { n: 1 }));
  // An enumerable member added to Object.prototype is left out, as JSON.stringify leaves it out.
  const objectProto = Object.prototype as Record<string, unknown>;
  objectProto.polluted = "x";
  try {
    same({ a: 1, nested: { b: [2] } });
  } finally {
    delete objectProto.polluted;
  }
});

test("what jsonBytes does not write itself is JSON.stringify's", () => {
  same({ when: new Date(0), bytes: Buffer.from("ab"), map: new Map([[1, 2]]), boxed: new String("s") });
  same({ custom: { toJSON: () => "mine" } });
  class Point {
    constructor(readonly x: number) {}
  }
  same({ p: new Point(1) });
  assert.throws(() => jsonBytes({ n: 1n }), TypeError);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => jsonBytes(cyclic), TypeError);
  // After a fallback, the next value is written from the start again.
  same({ after: "fallback" });
});

test("a tree's bytes are JSON.stringify's for every kind of node", () => {
  const base: TreeNode = { name: "f", type: "file", mode: 0o644, uid: 1000, gid: 1000, mtime: "2023-11-14T22:13:20.000000100Z", ctime: "2026-01-01T00:00:00.000000000Z", inode: "123456789012", device: "2049", links: 1, size: 5 };
  const nodes: TreeNode[] = [
    { ...base, user: "alice", group: "staff", content: ["a".repeat(64), "b".repeat(64)] },
    { ...base, name: "\ufffdx", name_raw: "/3g=", content: [] },
    { ...base, name: "d", type: "dir", size: 0, subtree: "c".repeat(64) },
    { ...base, name: "l", type: "symlink", linktarget: "../ü/\"q\"", linktarget_raw: undefined },
    { ...base, name: "dev", type: "chardev", rdev: "259" },
    { ...base, name: "x", xattrs: [{ name: "user.k", value: "dmFs" }], atime: undefined },
    JSON.parse('{"name":"old","type":"file","future_field":{"nested":[1,"two",null]},"mode":420}') as TreeNode,
  ];
  for (let i = 0; i < 50; i++) nodes.push({ ...base, name: `n${i} ${STRINGS[i % STRINGS.length]?.slice(0, 40)}`, size: i * 1_000_003 });
  assert.deepEqual(encodeTree({ nodes }), Buffer.from(JSON.stringify({ nodes })));
  assert.deepEqual(encodeTree({ nodes: [] }), Buffer.from('{"nodes":[]}'));
});
