#!/usr/bin/env node
// A small young generation: coffer's main thread allocates steadily but keeps little alive,
// and V8's default semi-spaces made most of its peak memory. Set before anything allocates.
import v8 from "node:v8";
v8.setFlagsFromString("--max-semi-space-size=2");
const { main } = await import("../dist/src/cli/main.js");
await main(process.argv.slice(2));
// Once the command has finished, nothing it started may keep the process alive: an SSH
// connection or an rclone child left open on an error path would otherwise hang it.
process.exit(process.exitCode ?? 0);
