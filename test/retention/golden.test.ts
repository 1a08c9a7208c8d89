import assert from "node:assert/strict";
import { test } from "node:test";
import { CASES } from "./cases.js";
import { goldenNames, readGolden, run, UPDATE, writeGolden } from "./golden.js";

for (const c of CASES) {
  test(`golden: ${c.name}: ${c.description}`, () => {
    assert.ok(c.policy.timeZone, "a golden case names its time zone");
    if (UPDATE) writeGolden(c);
    const g = readGolden(c.name);
    assert.deepEqual({ description: g.description, now: g.now, policy: g.policy, items: g.items }, { description: c.description, now: c.now, policy: c.policy, items: c.items }, "the golden input matches the case; regenerate with UPDATE_GOLDEN=1");
    // The file alone is the test: its own input gives its expected decisions.
    assert.deepEqual(run(g), g.expected);
  });
}

test("golden: every golden file has a case", () => {
  const names = new Set(CASES.map((c) => c.name));
  assert.equal(names.size, CASES.length, "case names are unique");
  assert.deepEqual(goldenNames().filter((n) => !names.has(n)), []);
});
