/**
 * Jobs that work on files rather than repositories: log rotation and a command of the user's
 * (record archiving and `.bak` clean-up are in records-jobs.ts). Each reports one summary line;
 * problems the operation reports as warnings are logged; a rotation step that failed fails the job.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { CofferConfig, CommandJob, RotateJob } from "../config/types.js";
import { CofferError } from "../core/errors.js";
import { rotate } from "../rotate/rotate-files.js";
import type { AttemptContext, JobOutcome } from "./daemon-job.js";
import type { Env } from "./state.js";

export const warnTo = (ctx: AttemptContext) => (w: { message: string }) => ctx.log(`warning: ${w.message}`);

export async function runRotateJob(j: RotateJob, config: CofferConfig, ctx: AttemptContext & { stateFile: string }): Promise<JobOutcome> {
  const rules = config.rotate.filter((r) => j.rules.includes(r.name ?? ""));
  const r = await rotate(rules, { stateFile: ctx.stateFile, signal: ctx.signal, onWarning: warnTo(ctx), cwd: config.dir });
  if (r.failed > 0) {
    const first = r.warnings[0]?.message ?? "see the log";
    throw new CofferError("IO", `${r.failed} rotation step${r.failed === 1 ? "" : "s"} failed (${first}); the logs stay as they were where a step failed.`, { failed: r.failed });
  }
  return { status: "success", summary: `${r.rotated.length} of ${r.files} logs rotated`, details: { rotated: r.rotated.length, files: r.files } };
}

/**
 * A string runs through `/bin/sh -c`, a list as it is; in its folder, with the daemon's
 * environment plus its own. Its output lines go to the log (the first 200). Exit 0 is success.
 */
export function runCommandJob(j: CommandJob, ctx: AttemptContext & { env: Env }): Promise<JobOutcome> {
  return new Promise((resolvePromise, reject) => {
    const [file, args] = typeof j.command === "string" ? ["/bin/sh", ["-c", j.command]] : [j.command[0] ?? "", j.command.slice(1)];
    // Its own process group, so that a stop reaches what a shell started too.
    const child = spawn(file, args, { cwd: j.cwd, env: { ...ctx.env, ...j.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const stopGroup = killGroupOnAbort(child, ctx.signal);
    let lines = 0;
    let last = "";
    const onData = (c: Buffer): void => {
      for (const line of c.toString().split("\n")) {
        if (line.trim() === "") continue;
        last = line;
        if (++lines <= 200) ctx.log(`${j.name}: ${line.slice(0, 500)}`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => {
      stopGroup();
      if (ctx.signal.aborted) return reject(new CofferError("INTERRUPTED", `The command of job ${j.name} was stopped.`));
      reject(new CofferError("INVALID", `The command of job ${j.name} could not be started (${err.message}); check command: and cwd: in the configuration.`, {}, { cause: err }));
    });
    child.on("close", (code, signal) => {
      stopGroup();
      if (code === 0) return resolvePromise({ status: "success", summary: last !== "" ? last.slice(0, 200) : "exit 0" });
      if (ctx.signal.aborted) return reject(new CofferError("INTERRUPTED", `The command of job ${j.name} was stopped.`));
      reject(new CofferError("INVALID", `The command of job ${j.name} ${code !== null ? `exited with status ${code}` : `was killed by ${signal ?? "a signal"}`}${last ? `: ${last.slice(0, 300)}` : ""}.`, { exitCode: code }));
    });
  });
}

/**
 * On abort: SIGTERM to the child's process group, SIGKILL 10 s later if it is still there.
 * Returns the function that detaches this once the child has ended.
 */
export function killGroupOnAbort(child: ChildProcess, signal: AbortSignal, graceMs = 10_000): () => void {
  let timer: NodeJS.Timeout | undefined;
  const kill = (sig: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      child.kill(sig);
    }
  };
  const onAbort = (): void => {
    kill("SIGTERM");
    timer = setTimeout(() => kill("SIGKILL"), graceMs);
    timer.unref();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    signal.removeEventListener("abort", onAbort);
    if (timer) clearTimeout(timer);
  };
}
