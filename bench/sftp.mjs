// SFTP driver throughput against OpenSSH on loopback, beside OpenSSH's own sftp client moving
// the same bytes through the same server: save and load of 16 MiB packs (the pack size), one
// at a time and 5 at once (the driver's default connections).
// Usage: node bench/sftp.mjs [build dir=.build/sftp] [MiB in all=256]
// Starts sshd through the test helper (test/helpers/sftp-server.ts). Prints one row per run:
// what, MiB, seconds, MiB/s.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const build = resolve(process.argv[2] ?? ".build/sftp");
const totalMiB = Number(process.argv[3] ?? 256);
const mod = (p) => import(pathToFileURL(join(build, p)).href);
const { openBackend, wrapBackend } = await mod("src/backend/open.js");
const { startSftpServer } = await mod("test/helpers/sftp-server.js");

const PACK = 16 << 20;
const packs = Math.max(1, Math.round((totalMiB << 20) / PACK));
const server = await startSftpServer();
const rows = [];
const row = (what, bytes, ms) => rows.push([what, (bytes / 2 ** 20).toFixed(0), (ms / 1000).toFixed(2), (bytes / 2 ** 20 / (ms / 1000)).toFixed(1)]);
try {
  const data = Array.from({ length: packs }, () => randomBytes(PACK));
  const names = data.map(() => randomBytes(32).toString("hex"));
  for (const parallel of [1, 5]) {
    const b = wrapBackend(openBackend(server.url(`bench-${parallel}`), { env: { HOME: server.dir, ...server.env } }), { env: {} });
    await b.create();
    await b.stat({ type: "config", name: "" }).catch(() => undefined); // connect before timing
    const run = async (fn) => {
      let next = 0;
      await Promise.all(Array.from({ length: parallel }, async () => {
        while (next < packs) await fn(next++);
      }));
    };
    let t = performance.now();
    await run((i) => b.save({ type: "data", name: names[i] }, data[i]));
    row(`coffer save, ${parallel} at once`, packs * PACK, performance.now() - t);
    t = performance.now();
    await run((i) => b.load({ type: "data", name: names[i] }));
    row(`coffer load, ${parallel} at once`, packs * PACK, performance.now() - t);
    await b.close();
  }
  // OpenSSH's sftp client, same server, same bytes, one file after another.
  const local = join(server.dir, "pack.bin");
  writeFileSync(local, data[0]);
  const batch = (cmds) => {
    writeFileSync(join(server.dir, "batch"), cmds.join("\n") + "\n");
    const t = performance.now();
    execFileSync("sftp", ["-q", "-b", join(server.dir, "batch"), "-i", server.userKey, "-o", `UserKnownHostsFile=${server.knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-P", String(server.port), `${server.user}@${server.host}`], { stdio: "ignore" });
    return performance.now() - t;
  };
  const remote = join(server.root, "openssh");
  execFileSync("mkdir", ["-p", remote]);
  row("OpenSSH sftp put", packs * PACK, batch(Array.from({ length: packs }, (_, i) => `put ${local} ${remote}/p${i}`)));
  row("OpenSSH sftp get", packs * PACK, batch(Array.from({ length: packs }, (_, i) => `get ${remote}/p${i} ${join(server.dir, "got.bin")}`)));
} finally {
  await server.stop();
}
console.log(["what", "MiB", "s", "MiB/s"].join("\t"));
for (const r of rows) console.log(r.join("\t"));
