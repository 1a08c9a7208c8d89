import assert from "node:assert/strict";
import { test } from "node:test";
import { ListedStat, parseListing } from "../../src/snapshot/entry-stat.js";
import { nodeFromStat } from "../../src/snapshot/node-from-stat.js";
import { NameLookup } from "../../src/snapshot/names.js";
import { isoFromNs, nsFromIso } from "../../src/snapshot/tree.js";

const NS = 1_000_000_000n;

/** What isoFromNs must give: Date#toISOString's date and time (its year forms too) with nine digits of nanoseconds. */
function reference(ns: bigint): string {
  let sec = ns / NS;
  let frac = ns % NS;
  if (frac < 0n) {
    frac += NS;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString();
  return `${iso.slice(0, -5)}.${frac.toString().padStart(9, "0")}Z`;
}

/** Times on the edges: the epoch, before it, around 9999/10000, fractions with zeros, int64's ends. */
const EDGES: bigint[] = [
  0n,
  1n,
  -1n,
  999_999_999n,
  1_000_000_000n,
  -1_000_000_000n,
  -1_000_000_001n,
  1_700_000_000n * NS,
  1_700_000_000n * NS + 100_000_000n,
  1_700_000_000n * NS + 10n,
  951_782_400n * NS, // 2000-02-29
  4_107_542_399n * NS + 999_999_999n, // 2100-02-28T23:59:59
  253_402_300_799n * NS + 999_999_999n, // 9999-12-31T23:59:59.999999999
  253_402_300_800n * NS, // +010000-01-01
  -62_135_596_800n * NS, // 0001-01-01
  -62_167_219_200n * NS, // 0000-01-01
  -62_167_219_201n * NS, // -000001-12-31
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 32n,
  2n ** 32n - 1n,
  2n ** 53n + 1n,
];

/** Pseudo-random times, in and out of the fast range, repeating seconds and days (the cache). */
function* samples(): Generator<bigint> {
  let x = 0x2545f491n;
  const next = (): bigint => (x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n);
  let last = 1_700_000_000n * NS;
  for (let i = 0; i < 20_000; i++) {
    const r = next();
    switch (Number(r % 5n)) {
      case 0:
        yield (last = last + (r % NS)); // often the same second
        break;
      case 1:
        yield (last = last + (r % (86_400n * NS))); // often the same day
        break;
      case 2:
        yield (last = (r % (300_000_000_000n * NS)) - 5_000_000_000n * NS); // 1811 to 11476 (beyond int64 too)
        break;
      case 3:
        yield (r % 2n ** 64n) - 2n ** 63n; // all of int64
        break;
      default:
        yield (last = 1_700_000_000n * NS + (r % 1000n) * NS); // a whole second: frac zero
    }
  }
}

test("isoFromNs gives Date's ISO form with nanoseconds, for every range and in any order", () => {
  for (const ns of EDGES) assert.equal(isoFromNs(ns), reference(ns), `${ns}`);
  for (const ns of samples()) assert.equal(isoFromNs(ns), reference(ns), `${ns}`);
  assert.equal(isoFromNs(253_402_300_800n * NS + 5n), "+010000-01-01T00:00:00.000000005Z");
  assert.equal(isoFromNs(-1n), "1969-12-31T23:59:59.999999999Z");
  assert.equal(isoFromNs(1_700_000_000n * NS + 100n), "2023-11-14T22:13:20.000000100Z");
  for (const ns of EDGES.filter((n) => n > -(2n ** 62n) && n < 2n ** 62n)) assert.equal(nsFromIso(isoFromNs(ns)), ns);
});

/** One listed entry with these 11 lstat fields. */
function listed(fields: bigint[]): ListedStat {
  const rec = Buffer.alloc(12 * 8 + 4 + 8);
  fields.forEach((v, i) => rec.writeBigInt64LE(v, i * 8));
  rec.writeUInt32LE(1, 12 * 8);
  rec.write("n", 12 * 8 + 4);
  const [e] = parseListing(rec, Buffer.from("/d"));
  assert.ok(e?.stat);
  return e.stat;
}

test("a listed entry's fields read without bigints equal the bigint ones, huge and negative too", () => {
  const names = new NameLookup({ passwdFile: "/nonexistent", groupFile: "/nonexistent" });
  const int64 = (n: bigint): boolean => n >= -(2n ** 63n) && n < 2n ** 63n;
  const values = [...EDGES, ...[...samples()].slice(0, 3000)].filter(int64);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as bigint;
    const w = values[(i * 7 + 3) % values.length] as bigint;
    // dev, ino, mode (a device, or a file), nlink, uid, gid, rdev, size, atime, mtime, ctime
    const mode = i % 2 === 0 ? 0o20644n : 0o100600n;
    const fields = [v, w, mode, (v < 0n ? -v : v) % 2n ** 53n, 1000n, 50n, w, (w < 0n ? -w : w) % 2n ** 62n, 0n, v, w];
    const st = listed(fields);
    assert.deepEqual([st.dev, st.ino, st.mode, st.nlink, st.uid, st.gid, st.rdev, st.size, st.atimeNs, st.mtimeNs, st.ctimeNs], fields);
    const node = nodeFromStat(Buffer.from("n"), st, names);
    assert.equal(node.mtime, isoFromNs(v));
    assert.equal(node.ctime, isoFromNs(w));
    assert.equal(node.device, v.toString());
    assert.equal(node.inode, w.toString());
    assert.equal(node.links, Number(fields[3]));
    assert.equal(node.rdev, i % 2 === 0 ? w.toString() : undefined);
    assert.equal(node.size, Number(fields[7]));
    assert.equal(node.type, i % 2 === 0 ? "chardev" : "file");
  }
});
