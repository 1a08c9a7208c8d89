// takeLock: exclusive, stale locks broken safely. Regression: a process that read a holder's
// line just before that holder released and exited judged the lock stale and removed the next
// holder's lock, so two processes held it (two writeVersioned writers lost a write).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { isCofferError } from "../../src/core/errors.js";
import type { Warning } from "../../src/core/warning.js";
import { nodeRotateFs, type RotateFs } from "../../src/rotate/rotate-fs.js";
import { takeLock } from "../../src/rotate/take-lock.js";
import { tempDir } from "./tree-helpers.js";

test("a held lock is waited for, then LOCKED; released, it is free; a stale one is taken over with a warning", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const lock = join(dir, "f.lock");
    const release = await takeLock(nodeRotateFs, lock);
    assert.match(await readFile(lock, "utf8"), new RegExp(`^${process.pid} ${hostname()} \\S+ [0-9a-f]{12}\\n$`));
    await assert.rejects(takeLock(nodeRotateFs, lock, { timeoutMs: 50 }), (e) => isCofferError(e, "LOCKED") && e.data.pid === process.pid);
    await release();
    (await takeLock(nodeRotateFs, lock))();
    await writeFile(lock, `999999999 ${hostname()} then\n`);
    const warnings: Warning[] = [];
    const again = await takeLock(nodeRotateFs, lock, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings.map((w) => w.code), ["STALE_LOCK"]);
    await again();
  } finally {
    await cleanup();
  }
});

test("stale-lock race: a lock that changed hands after it was judged stale is not removed", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const lock = join(dir, "f.lock");
    const stale = `999999999 ${hostname()} then\n`;
    const live = `${process.pid} ${hostname()} now x\n`;
    await writeFile(lock, stale);
    let reads = 0;
    // The first read sees the dead holder's line; right after, the lock is released and taken
    // by a live process (this one), before the breaker looks again.
    const fs: RotateFs = {
      ...nodeRotateFs,
      readFile: (async (...args: Parameters<typeof nodeRotateFs.readFile>) => {
        const text = await nodeRotateFs.readFile(...args);
        if (String(args[0]) === lock && reads++ === 0) await writeFile(lock, live);
        return text;
      }) as RotateFs["readFile"],
    };
    await assert.rejects(takeLock(fs, lock, { timeoutMs: 100 }), (e) => isCofferError(e, "LOCKED"));
    assert.equal(await readFile(lock, "utf8"), live, "the live holder's lock is still there");
  } finally {
    await cleanup();
  }
});

test("16 processes that each take the lock once and exit right after releasing it: never two holders at once", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const lock = join(dir, "f.lock");
    const log = join(dir, "log");
    const child = new URL("./take-lock-child.js", import.meta.url).pathname;
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 16 }, () => new Promise<void>((resolve, reject) => {
          const p = spawn(process.execPath, [child, lock, log], { stdio: "ignore" });
          p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
        })),
      );
    }
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    assert.equal(lines.length, 96);
    for (let i = 0; i < lines.length; i += 2) {
      const [a, b] = [lines[i]?.split(" "), lines[i + 1]?.split(" ")];
      assert.deepEqual([a?.[0], b?.[0], a?.[1]], ["start", "end", b?.[1]], `lines ${i}-${i + 1}: two holders at once`);
    }
  } finally {
    await cleanup();
  }
});
