// Debian's logrotate and coffer side by side: the same log tree is copied twice, logrotate
// rotates one copy and coffer (reading the same configuration) the other, round after round;
// the two trees must then hold the same file names, contents (compressed files read through
// gunzip) and permission bits. Needs the Debian package `logrotate`; skipped without it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parseLogrotateConfig } from "../../src/rotate/logrotate-config.js";
import { rotate } from "../../src/rotate/rotate-files.js";
import { append, hasLogrotate, snapshotTree, tempDir, writeFileAt } from "./tree-helpers.js";

const skip = hasLogrotate() ? false : "logrotate is not installed (Debian: apt-get install logrotate); the side-by-side tests need it";
const DAY = 86_400_000;

interface Scenario {
  config: string;
  setup(dir: string, t0: number): Promise<void>;
  /** Before each round, in both trees alike. */
  between?(dir: string, round: number): Promise<void>;
  rounds: number;
  force?: boolean;
}

/** logrotate's default `-%Y%m%d` for a day `daysAgo` before `t0`, in local time as logrotate writes it. */
function ymd(t0: number, daysAgo: number, sep = ""): string {
  const d = new Date(t0 - daysAgo * DAY);
  return [d.getFullYear(), String(d.getMonth() + 1).padStart(2, "0"), String(d.getDate()).padStart(2, "0")].join(sep);
}

async function sideBySide(s: Scenario): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    const t0 = Date.now();
    const a = join(dir, "logrotate");
    const b = join(dir, "coffer");
    for (const root of [a, b]) {
      await mkdir(root);
      await s.setup(root, t0);
    }
    for (let round = 0; round < s.rounds; round++) {
      for (const root of [a, b]) await s.between?.(root, round);
      const conf = join(dir, "a.conf");
      await writeFile(conf, s.config.replaceAll("@DIR@", a), { mode: 0o644 });
      const r = spawnSync("logrotate", [...(s.force === false ? [] : ["-f"]), "-s", join(dir, "a.state"), conf], { encoding: "utf8" });
      assert.equal(r.status, 0, `logrotate failed: ${r.stderr}`);
      const { rules, warnings } = parseLogrotateConfig(s.config.replaceAll("@DIR@", b), "b.conf");
      assert.deepEqual(warnings, []);
      const res = await rotate(rules, { force: s.force !== false, stateFile: join(dir, "b.state") });
      assert.equal(res.failed, 0, JSON.stringify(res.warnings));
      const [want, got] = [await snapshotTree(a), await snapshotTree(b)];
      assert.deepEqual(got, want, `round ${round + 1}: coffer's tree differs from logrotate's`);
    }
  } finally {
    await cleanup();
  }
}

async function writeGz(path: string, text: string, mtime: Date): Promise<void> {
  await writeFileAt(path, "");
  await writeFile(path, gzipSync(text));
  await utimes(path, mtime, mtime);
}

const lines = (tag: string, n = 3): string => Array.from({ length: n }, (_, i) => `${tag} line ${i}\n`).join("");

test("numbered: daily, rotate 3, compress, delaycompress, olddir, create 0640, a glob of two logs", { skip }, () =>
  sideBySide({
    config: "@DIR@/*.log {\n  daily\n  rotate 3\n  compress\n  delaycompress\n  olddir old\n  create 0640\n}\n",
    async setup(dir) {
      await mkdir(join(dir, "old"));
      await writeFileAt(join(dir, "app.log"), lines("app start"));
      await writeFileAt(join(dir, "web.log"), lines("web start"));
    },
    async between(dir, round) {
      await append(join(dir, "app.log"), lines(`app round ${round}`));
      await append(join(dir, "web.log"), lines(`web round ${round}`, round + 1));
    },
    rounds: 5,
  }));

test("numbered: copytruncate with compress, rotate 2", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  rotate 2\n  compress\n  copytruncate\n}\n",
    setup: (dir) => writeFileAt(join(dir, "app.log"), lines("start")),
    between: (dir, round) => append(join(dir, "app.log"), lines(`round ${round}`)),
    rounds: 4,
  }));

test("numbered: rename without create, notifempty, missingok with a missing log", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log @DIR@/missing.log {\n  rotate 4\n  missingok\n  notifempty\n}\n",
    setup: (dir) => writeFileAt(join(dir, "app.log"), lines("start")),
    // The writer makes a new file after each rotation; in round 2 it writes nothing.
    between: (dir, round) => writeFileAt(join(dir, "app.log"), round === 2 ? "" : lines(`round ${round}`)),
    rounds: 4,
  }));

test("dateext: daily, rotate 3, compress, delaycompress, olddir, over an existing history", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  daily\n  dateext\n  rotate 3\n  compress\n  delaycompress\n  olddir old\n}\n",
    async setup(dir, t0) {
      for (const ago of [5, 4, 3]) await writeGz(join(dir, "old", `app.log-${ymd(t0, ago)}.gz`), lines(`day -${ago}`), new Date(t0 - ago * DAY));
      await writeFileAt(join(dir, "old", `app.log-${ymd(t0, 2)}`), lines("day -2 (not yet compressed)"), new Date(t0 - 2 * DAY));
      await writeFileAt(join(dir, "app.log"), lines("today"));
    },
    rounds: 1,
  }));

test("dateext: dateformat -%Y-%m-%d, maxage 5, compress, create", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  daily\n  dateext\n  dateformat -%Y-%m-%d\n  rotate 10\n  maxage 5\n  compress\n  create\n}\n",
    async setup(dir, t0) {
      // maxage 5 removes what is more than 5 × 24 hours old: 9, 6.5 and 5.5 go, 4.5 and 3 stay.
      for (const ago of [9, 6.5, 5.5, 4.5, 3]) await writeGz(join(dir, `app.log-${ymd(t0, ago, "-")}.gz`), lines(`day -${ago}`), new Date(t0 - ago * DAY));
      await writeFileAt(join(dir, "app.log"), lines("today"));
    },
    rounds: 1,
  }));

test("dateext: copytruncate, rotate 2, uncompressed history", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  dateext\n  rotate 2\n  copytruncate\n}\n",
    async setup(dir, t0) {
      for (const ago of [3, 2]) await writeFileAt(join(dir, `app.log-${ymd(t0, ago)}`), lines(`day -${ago}`), new Date(t0 - ago * DAY));
      await writeFileAt(join(dir, "app.log"), lines("today"));
    },
    rounds: 1,
  }));

test("dateext: hourly names (-%Y%m%d%H), compress", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  hourly\n  dateext\n  rotate 5\n  compress\n}\n",
    setup: (dir) => writeFileAt(join(dir, "app.log"), lines("this hour")),
    rounds: 1,
  }));

test("numbered: maxage 3 removes old copies before the shift", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  rotate 5\n  maxage 3\n}\n",
    async setup(dir, t0) {
      for (const [n, ago] of [[1, 1], [2, 2.5], [3, 3.5], [4, 5]] as const) await writeFileAt(join(dir, `app.log.${n}`), lines(`copy ${n}`), new Date(t0 - ago * DAY));
      await writeFileAt(join(dir, "app.log"), lines("today"));
    },
    rounds: 1,
  }));

test("rotate 0: the rotated copy is removed", { skip }, () =>
  sideBySide({
    config: "@DIR@/app.log {\n  rotate 0\n  create\n}\n",
    setup: (dir) => writeFileAt(join(dir, "app.log"), lines("start")),
    between: (dir, round) => append(join(dir, "app.log"), lines(`round ${round}`)),
    rounds: 2,
  }));

test("postrotate per log, and sharedscripts once per block", { skip }, async () => {
  await sideBySide({
    config: '@DIR@/*.log {\n  rotate 1\n  postrotate\n    echo "post $(basename "$1")" >> @DIR@/post.txt\n  endscript\n}\n',
    async setup(dir) {
      await writeFileAt(join(dir, "a.log"), lines("a"));
      await writeFileAt(join(dir, "b.log"), lines("b"));
    },
    between: async (dir, round) => {
      await writeFileAt(join(dir, "a.log"), lines(`a ${round}`));
      await writeFileAt(join(dir, "b.log"), lines(`b ${round}`));
    },
    rounds: 2,
  });
  await sideBySide({
    // logrotate's shared $1 is the text before "{" with its trailing space; coffer's has none.
    config: '@DIR@/*.log {\n  rotate 1\n  sharedscripts\n  postrotate\n    echo "shared $(basename $1)" >> @DIR@/post.txt\n  endscript\n}\n',
    async setup(dir) {
      await writeFileAt(join(dir, "a.log"), lines("a"));
      await writeFileAt(join(dir, "b.log"), lines("b"));
    },
    rounds: 1,
  });
});

test("size 100 without -f: only logs at the threshold rotate; empty ones stay with notifempty", { skip }, () =>
  sideBySide({
    config: "@DIR@/*.log {\n  size 100\n  rotate 2\n  notifempty\n}\n",
    async setup(dir) {
      await writeFileAt(join(dir, "big.log"), "x".repeat(199) + "\n");
      await writeFileAt(join(dir, "small.log"), "y".repeat(49) + "\n");
      await writeFileAt(join(dir, "empty.log"), "");
    },
    between: (dir, round) => append(join(dir, "small.log"), "z".repeat(39 + round) + "\n"),
    rounds: 3,
    force: false,
  }));
