// A writer for the parallel writeVersioned test: argv = path, data, ISO time, keep.
import { writeVersioned } from "../../src/rotate/write-versioned.js";

const [path, data, at, keep] = process.argv.slice(2) as [string, string, string, string];
await writeVersioned(path, data, { keep: Number(keep), now: new Date(at), lockTimeoutMs: 60_000 });
