// A real REST server for tests: `rclone serve restic` (Debian `rclone`) on a free loopback
// port, serving a fresh temp directory.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const HAVE_RCLONE = (() => {
  try {
    execFileSync("rclone", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

export interface RcloneServer {
  url: string;
  root: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `rclone serve restic` on a free loopback port, serving a fresh temp dir. */
export async function startRcloneServer(auth?: { user: string; pass: string }): Promise<RcloneServer> {
  const root = await mkdtemp(join(tmpdir(), "coffer-rest-"));
  const args = ["serve", "restic", "--addr", "127.0.0.1:0", "--cache-objects=false", ...(auth ? ["--user", auth.user, "--pass", auth.pass] : []), root];
  const child = spawn("rclone", args, { stdio: ["ignore", "ignore", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let log = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (c: string) => {
      log += c;
      const m = /Serving restic REST API on (http:\/\/\S+)/.exec(log);
      if (m?.[1]) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`rclone exited:\n${log}`)));
  });
  child.stderr.resume();
  return {
    url,
    root,
    child,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
