// pino (a transport in its worker thread) and winston (a transport object) writing through the
// rotating stream: every record exactly once across the current file and its rotated copies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import winston from "winston";
import { RotatingFileTransport } from "../../src/rotate/winston-transport.js";
import { linesUnder, tempDir } from "./tree-helpers.js";

const PINO_TARGET = fileURLToPath(new URL("../../src/rotate/pino-transport.js", import.meta.url));

test("pino: 4 async loggers through pino.transport({ target }) in a worker thread, 20 000 records across many rotations", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    const transport = pino.transport({ target: PINO_TARGET, options: { path, rule: { size: "32k", keep: 3, archiveDir: "archive", compressAfter: "0h", archiveKeep: null, archiveMaxAge: null } } });
    await once(transport, "ready");
    const logger = pino(transport);
    const loop = async (id: number): Promise<void> => {
      const child = logger.child({ w: id });
      for (let i = 0; i < 5000; i++) {
        child.info({ i }, "record");
        if (i % 200 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all([0, 1, 2, 3].map(loop));
    // pino's worker is unref'd and ends asynchronously: keep the test alive until it has closed.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      transport.end();
      await once(transport, "close");
    } finally {
      clearInterval(keepAlive);
    }
    const { lines, files } = await linesUnder(dir, "app.log");
    assert.ok(files.length > 5, `only ${files.length} files`);
    assert.ok(files.some((f) => f.endsWith(".gz")));
    const keys = lines.map((l) => {
      const rec = JSON.parse(l) as { w: number; i: number; msg: string };
      return `${rec.w}:${rec.i}`;
    });
    assert.equal(keys.length, 20_000);
    assert.equal(new Set(keys).size, 20_000);
  } finally {
    await cleanup();
  }
});

test("winston: a RotatingFileTransport with levels and the logger's format, 5 000 records across rotations", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "app.log");
    const transport = new RotatingFileTransport({ path, rule: { size: "16k", keep: 100, archiveDir: null, compress: "none" } });
    const logger = winston.createLogger({ level: "info", format: winston.format.json(), transports: [transport as unknown as winston.transport] });
    for (let i = 0; i < 5000; i++) {
      logger.info("record", { i });
      logger.debug("filtered out", { i });
    }
    logger.end();
    await once(transport.stream, "close");
    const { lines } = await linesUnder(dir, "app.log");
    const seen = lines.map((l) => (JSON.parse(l) as { i: number; level: string }).i);
    assert.equal(seen.length, 5000);
    assert.equal(new Set(seen).size, 5000);
    assert.ok(transport.stream.rotations > 10);
  } finally {
    await cleanup();
  }
});
