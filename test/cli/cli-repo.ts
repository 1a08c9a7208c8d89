// Real repositories for CLI tests: made by `backup()` in a temp dir, and two ways to run the
// CLI against them: in process (captured text) or as a child process (stdout as bytes).
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../../src/backend/local.js";
import { runCli } from "../../src/cli/main.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { Repository } from "../../src/repository/repository.js";
import { backup } from "../../src/snapshot/archiver.js";
import { fakeIO } from "./fake-io.js";

export interface CliRepo {
  dir: string;
  repoPath: string;
  password: string;
  env: Record<string, string>;
  /** Backs up `paths` into the repository; returns the snapshot id. */
  backup(paths: string[], time?: Date): Promise<string>;
  open(password?: string): Promise<Repository>;
  /** Runs the CLI in process. */
  run(argv: string[], env?: Record<string, string>): Promise<{ code: number; out: string; err: string }>;
  /** Runs the CLI as a child process, stdout as bytes. */
  spawn(argv: string[], env?: Record<string, string>): Promise<{ code: number; out: Buffer; err: string }>;
  cleanup(): Promise<void>;
}

const MAIN = new URL("../../src/cli/main.js", import.meta.url).href;

export async function makeCliRepo(): Promise<CliRepo> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-cli-"));
  const repoPath = join(dir, "repo");
  const password = "test-password";
  await (await Repository.init(new LocalBackend(repoPath), { password, kdf: TEST_KDF })).close();
  const env = { HOME: join(dir, "home"), COFFER_REPOSITORY: repoPath, COFFER_PASSWORD: password, COFFER_TEST_KDF: "1" };
  const open = (pw = password) => Repository.open(new LocalBackend(repoPath), { password: pw });
  return {
    dir,
    repoPath,
    password,
    env,
    open,
    async backup(paths, time) {
      const repo = await open();
      try {
        const r = await backup(repo, { paths, workers: 1, ...(time ? { time } : {}) });
        return r.snapshot!.id;
      } finally {
        await repo.close();
      }
    },
    async run(argv, extra = {}) {
      const io = fakeIO({ env: { ...env, ...extra }, clock: () => new Date() });
      const code = await runCli(argv, io);
      return { code, out: io.out(), err: io.err() };
    },
    spawn(argv, extra = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", `import { main } from ${JSON.stringify(MAIN)}; main(process.argv.slice(1));`, "--", ...argv], {
          env: { PATH: process.env.PATH ?? "", ...env, ...extra },
          stdio: ["ignore", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        let err = "";
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, out: Buffer.concat(out), err }));
      });
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
