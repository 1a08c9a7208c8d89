// One holder for the takeLock stress test: takes the lock once, logs start/end, exits at once.
import { appendFileSync } from "node:fs";
import { nodeRotateFs } from "../../src/rotate/rotate-fs.js";
import { takeLock } from "../../src/rotate/take-lock.js";

const [lock, log] = process.argv.slice(2) as [string, string];
const release = await takeLock(nodeRotateFs, lock, { timeoutMs: 60_000, pollMs: 2 });
appendFileSync(log, `start ${process.pid}\n`);
await new Promise((r) => setTimeout(r, 2));
appendFileSync(log, `end ${process.pid}\n`);
await release();
