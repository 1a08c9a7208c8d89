// Builds the optional native addon (native/coffer_native.c) with node-gyp, offline when the
// running node's headers are installed beside it (e.g. /usr/include/node). coffer works
// without the addon (times lose sub-microsecond precision, no fifos/devices), so a failed
// build warns and exits 0 rather than failing the install.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";

const prefix = dirname(dirname(process.execPath));
const args = ["rebuild"];
if (existsSync(join(prefix, "include", "node", "node_api.h")) && existsSync(join(prefix, "include", "node", "common.gypi"))) {
  args.push(`--nodedir=${prefix}`);
}
const candidates = [
  process.env.npm_config_node_gyp,
  join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
].filter((p) => p && existsSync(p));
const r = candidates[0]
  ? spawnSync(process.execPath, [candidates[0], ...args], { stdio: "inherit" })
  : spawnSync("node-gyp", args, { stdio: "inherit" });
if (r.status !== 0) {
  console.warn("coffer: the native addon was not built; restores will set times to the microsecond and skip fifos and devices.");
}
