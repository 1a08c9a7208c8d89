#!/usr/bin/env node
// A small young generation: coffer's main thread allocates steadily but keeps little alive,
// and V8's default semi-spaces made most of its peak memory. Set before anything allocates.
// Once V8 runs, --max-semi-space-size no longer applies (measured: the main thread's young
// generation still grew to 32 MiB); a growth factor of 1 keeps it at its initial 2 MiB, until
// a worker thread starts (each new isolate sets the factor back to 2; see src/core/gc.ts).
import v8 from "node:v8";
import { statSync } from "node:fs";
v8.setFlagsFromString("--max-semi-space-size=2");
v8.setFlagsFromString("--semi-space-growth-factor=1");
// V8's memory-saving mode: heaps grow less between collections, in this thread and in every
// worker thread started later. It cut a backup's peak resident size by 17-24 MB for about 5 %
// more CPU time (docs/performance.md, "The allocator, V8's memory mode and the main heap").
v8.setFlagsFromString("--optimize-for-size");
// Each isolate V8 starts copies its builtins into its own code range (short calls into them),
// about 1 MB resident per worker thread; without, every worker calls the one copy in the
// binary: 2.3 MB less for three workers (docs/performance.md, "Builtins shared by the workers").
v8.setFlagsFromString("--no-short-builtin-calls");
// The bundle (scripts/bundle.mjs) starts faster than dist/src's 280 modules; it is used when it
// is at least as new as the compiled sources, so a `tsc` without a new bundle is never shadowed.
const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime("../dist/bundle/main.js") >= mtime("../dist/src/cli/main.js");
const { main } = await import(bundled ? "../dist/bundle/main.js" : "../dist/src/cli/main.js");
await main(process.argv.slice(2));
// Once the command has finished, nothing it started may keep the process alive: an SSH
// connection or an rclone child left open on an error path would otherwise hang it.
process.exit(process.exitCode ?? 0);
