import type { Stats } from "node:fs";
import { basename, dirname } from "node:path";
import { systemClock, type Clock } from "../core/clock.js";
import { isCofferError, sysCode } from "../core/errors.js";
import { silentProgress, type Progress } from "../core/progress.js";
import { checkDue } from "./check-due.js";
import { expandFiles } from "./expand-files.js";
import { copyDirs, findCopies, type CopyFile } from "./find-copies.js";
import { takeLock } from "./take-lock.js";
import { maintainCopies } from "./maintain-copies.js";
import { planCopies } from "./plan-copies.js";
import type { RotateAction, RotateResult } from "./rotate-action.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import { rotateLog } from "./rotate-log.js";
import type { Warning, WarningCode, WarningSink } from "../core/warning.js";
import { parseCopyName } from "./rotated-name.js";
import { resolveRule, type ResolvedRule, type RotateDefaults, type RotateRule } from "./rule.js";
import { runScript, signalPidFile } from "./run-hooks.js";
import { loadState, saveState, type RotateState } from "./state-file.js";
import { mapLimit } from "./map-limit.js";

export interface RotateOptions {
  /** The time of the run (one instant for every decision); default `clock()`. */
  now?: Date;
  clock?: Clock;
  /** Plan only: nothing on disk changes, no lock is taken, actions are `planned`. */
  dryRun?: boolean;
  /** Rotate every existing log (empty ones only with if-empty), whatever its triggers and guards say. */
  force?: boolean;
  /** Where last rotations are remembered; its lock is `<stateFile>.lock`. Without it nothing is remembered and no lock is taken. */
  stateFile?: string;
  /** How long to wait for another rotator before CofferError LOCKED (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Told of each warning as it happens (also listed in the result's `warnings`). A rule's logs
   * are examined several at a time, so their warnings come in the order their work finished,
   * not in file order; the result's `actions` are in file order.
   */
  onWarning?: WarningSink;
  progress?: Progress;
  signal?: AbortSignal;
  fs?: RotateFs;
  /** Defaults for fields a rule leaves out; default `ROTATE_DEFAULTS`. */
  defaults?: RotateDefaults;
  /** Base of relative file patterns; default the process's working directory. */
  cwd?: string;
}

interface FileTask {
  path: string;
  stat: Stats;
  copies: CopyFile[];
  rotated: boolean;
  copyPath?: string;
}

/**
 * Applies log rotation rules: finds each rule's logs, decides which are due (`checkDue`),
 * rotates them (`rotateLog`), runs post-rotate scripts or signals, then compresses, archives and
 * deletes old copies (`planCopies`, with the retention engine). Under a lock next to the state
 * file, so two rotators never work at once. One log's failure is a warning and a failed action;
 * the others go on. Throws only for bad rules, a held lock (LOCKED) or an abort.
 */
export async function rotate(rules: readonly RotateRule[], opts: RotateOptions = {}): Promise<RotateResult> {
  const resolved = rules.map((r, i) => resolveRule(r, i, opts.defaults));
  const fs = opts.fs ?? nodeRotateFs;
  const now = opts.now ?? (opts.clock ?? systemClock)();
  const dryRun = opts.dryRun === true;
  const result: RotateResult = { dryRun, now: now.toISOString(), files: 0, rotated: [], actions: [], warnings: [], failed: 0 };
  const warn = (w: Warning): void => {
    result.warnings.push(w);
    opts.onWarning?.(w);
  };
  if (opts.stateFile !== undefined && !dryRun) await fs.mkdir(dirname(opts.stateFile), { recursive: true });
  const release = opts.stateFile !== undefined && !dryRun ? await takeLock(fs, `${opts.stateFile}.lock`, { timeoutMs: opts.lockTimeoutMs ?? 10_000, onWarning: warn, ...(opts.signal ? { signal: opts.signal } : {}) }) : undefined;
  const progress = opts.progress ?? silentProgress;
  try {
    const state: RotateState = opts.stateFile === undefined ? new Map() : await loadState(fs, opts.stateFile, warn, { keepAside: !dryRun });
    const run = new Run(fs, now, dryRun, opts.force === true, state, result, warn, opts.signal);
    const claimed = new Map<string, string>();
    let stopped: unknown;
    try {
      for (const rule of resolved) {
        opts.signal?.throwIfAborted();
        await run.rule(rule, claimed, opts.cwd ?? process.cwd(), progress);
      }
    } catch (err) {
      stopped = err;
    }
    // What was rotated before an abort is remembered too.
    if (opts.stateFile !== undefined && !dryRun) await saveState(fs, opts.stateFile, state);
    if (stopped !== undefined) throw stopped;
  } finally {
    progress.done();
    await release?.();
  }
  return result;
}

/** Logs of one rule handled at once: their work is mostly waiting on the disk. */
const PARALLEL = 8;

class Run {
  constructor(
    private readonly fs: RotateFs,
    private readonly now: Date,
    private readonly dryRun: boolean,
    private readonly force: boolean,
    private readonly state: RotateState,
    private readonly result: RotateResult,
    private readonly warn: WarningSink,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * One rule: its logs are examined and rotated several at a time (one at a time when each
   * runs its own script or signal, as logrotate does), then the shared script, then the old
   * copies. Actions are listed log by log, in file order, whatever order the work finished in.
   */
  async rule(rule: ResolvedRule, claimed: Map<string, string>, cwd: string, progress: Progress): Promise<void> {
    const { paths, unmatched } = await expandFiles(this.fs, rule.files, cwd);
    const head: RotateAction[] = [];
    for (const pattern of unmatched) this.missing(rule, pattern, head);
    const live: string[] = [];
    for (const { path } of withoutCopies(paths, rule)) {
      const first = claimed.get(path);
      if (first !== undefined) {
        this.warn({ code: "SKIPPED", path, message: `${path} is named by ${first} and ${rule.name}; only ${first} rotates it.` });
        continue;
      }
      claimed.set(path, rule.name);
      live.push(path);
    }
    const base = this.result.files;
    this.result.files += live.length;
    let done = 0;
    const limit = !rule.sharedScripts && (rule.postRotate !== undefined || rule.signal !== undefined) ? 1 : PARALLEL;
    const files = await mapLimit(live, limit, async (path) => {
      const out: RotateAction[] = [];
      if (this.signal?.aborted) return { path, out, task: undefined };
      const task = await this.examine(rule, path, out);
      progress.update({ phase: "rotate", filesDone: base + ++done, current: path });
      return { path, out, task };
    });
    this.signal?.throwIfAborted();
    const tail: RotateAction[] = [];
    if (rule.sharedScripts && files.some((f) => f.task?.rotated)) await this.hooks(rule, rule.files.join(" "), undefined, tail);
    await mapLimit(files, PARALLEL, async (f) => {
      if (f.task && !this.signal?.aborted && (f.task.rotated || rule.maintain === "always")) await this.maintain(rule, f.task, f.out);
    });
    this.result.actions.push(...head, ...files.flatMap((f) => f.out), ...tail);
    for (const f of files) if (f.task?.rotated) this.result.rotated.push(f.path);
  }

  /** Looks at one log, rotates it when due; undefined when there is nothing to maintain. */
  private async examine(rule: ResolvedRule, path: string, out: RotateAction[]): Promise<FileTask | undefined> {
    let stat: Stats;
    try {
      stat = await this.fs.lstat(path);
    } catch (err) {
      if (sysCode(err) === "ENOENT") this.missing(rule, path, out);
      else this.fail(rule, "skip", path, err, "FAILED", [], out);
      return undefined;
    }
    if (stat.isSymbolicLink() || !stat.isFile()) {
      const what = stat.isSymbolicLink() ? "a symbolic link (rotate the file it points to)" : "not a regular file";
      out.push({ kind: "skip", rule: rule.name, path, reasons: [what], status: this.status() });
      this.warn({ code: "SKIPPED", path, message: `${path} is ${what}; left alone.` });
      return undefined;
    }
    const dirs = copyDirs(path, rule);
    let copies: CopyFile[];
    try {
      copies = await findCopies(this.fs, path, rule, dirs);
    } catch (err) {
      this.fail(rule, "skip", path, err, "FAILED", [], out);
      return undefined;
    }
    const recorded = this.state.get(path);
    // A creation time ahead of the clock tells nothing (the clock went back): ignore it.
    const birth = stat.birthtimeMs > 0 && stat.birthtimeMs <= this.now.getTime() + 60_000 ? stat.birthtime : undefined;
    const newestCopy = copies.reduce<Date | undefined>((m, c) => (m === undefined || c.mtime > m ? c.mtime : m), undefined);
    const lastRotation = recorded ?? (newestCopy !== undefined ? latest(newestCopy, birth) : undefined);
    const created = latest(birth, lastRotation);
    const decision = checkDue(rule, { size: stat.size, mtime: stat.mtime, created, lastRotation, now: this.now, force: this.force });
    for (const w of decision.warnings) this.warn({ ...w, path });
    const task: FileTask = { path, stat, copies, rotated: false };
    if (!decision.due) {
      out.push({ kind: "skip", rule: rule.name, path, reasons: decision.reasons, status: this.status() });
      if (lastRotation === undefined && !this.dryRun) this.state.set(path, this.now);
      return task;
    }
    try {
      const started = created && created > this.now ? this.now : created;
      const done = await rotateLog({ fs: this.fs, livePath: path, rule, copies, stat, started, now: this.now, dryRun: this.dryRun, onWarning: (w) => this.warn(w) }, (s) => {
        const reasons = s.kind === "rotate" ? [...decision.reasons, ...(s.note ? [s.note] : [])] : s.note ? [s.note] : [];
        out.push({ kind: s.kind, rule: rule.name, path: s.path, ...(s.to ? { to: s.to } : {}), reasons, status: s.error ? "failed" : this.status(), ...(s.error ? { error: s.error } : {}) });
        if (s.error) this.result.failed++;
      });
      task.rotated = true;
      task.copyPath = done.copyPath;
      task.copies = done.copies;
      if (!this.dryRun) this.state.set(path, this.now);
    } catch (err) {
      const code = isCofferError(err) && typeof err.data.warning === "string" ? (err.data.warning as WarningCode) : sysCode(err) === "ENOSPC" ? "NO_SPACE" : "FAILED";
      this.fail(rule, "rotate", path, err, code, decision.reasons, out);
      return task;
    }
    if (!rule.sharedScripts) await this.hooks(rule, path, task.copyPath, out);
    return task;
  }

  private async maintain(rule: ResolvedRule, task: FileTask, out: RotateAction[]): Promise<void> {
    const dirs = copyDirs(task.path, rule);
    const copies = task.copyPath === undefined ? task.copies : freshFirst(task.copies, task.copyPath);
    const steps = planCopies(copies, rule, dirs, this.now);
    if (this.dryRun) {
      for (const s of steps) out.push({ kind: s.kind, rule: rule.name, path: s.path, ...(s.to ? { to: s.to } : {}), reasons: s.reasons, status: "planned" });
      return;
    }
    await maintainCopies(this.fs, rule, steps, (o) => {
      const reasons = o.note ? [...o.step.reasons, o.note] : o.step.reasons;
      out.push({ kind: o.step.kind, rule: rule.name, path: o.step.path, ...(o.step.to ? { to: o.step.to } : {}), reasons, status: o.status, ...(o.error ? { error: o.error } : {}) });
      if (o.status === "failed") this.result.failed++;
      if (o.warning) this.warn(o.warning);
    });
  }

  /** The post-rotate command, then the signal. */
  private async hooks(rule: ResolvedRule, subject: string, copyPath: string | undefined, out: RotateAction[]): Promise<void> {
    if (rule.postRotate !== undefined) {
      const reasons = [rule.sharedScripts ? "post-rotate (shared)" : "post-rotate"];
      if (this.dryRun) out.push({ kind: "script", rule: rule.name, path: subject, reasons, status: "planned" });
      else {
        try {
          const { status, stderr } = await runScript(rule.postRotate, copyPath === undefined ? [subject] : [subject, copyPath], this.signal);
          if (status === 0) out.push({ kind: "script", rule: rule.name, path: subject, reasons, status: "done" });
          else this.fail(rule, "script", subject, new Error(`the post-rotate command exited with status ${String(status)}${stderr ? `: ${stderr}` : ""}`), "FAILED", reasons, out);
        } catch (err) {
          this.fail(rule, "script", subject, err, "FAILED", reasons, out);
        }
      }
    }
    if (rule.signal !== undefined) {
      const reasons = [`${rule.signal.signal} to the pid in ${rule.signal.pidFile}`];
      if (this.dryRun) out.push({ kind: "signal", rule: rule.name, path: subject, reasons, status: "planned" });
      else {
        try {
          const pid = await signalPidFile(this.fs, rule.signal.pidFile, rule.signal.signal);
          out.push({ kind: "signal", rule: rule.name, path: subject, reasons: [...reasons, `process ${pid}`], status: "done" });
        } catch (err) {
          this.fail(rule, "signal", subject, err, "FAILED", reasons, out);
        }
      }
    }
  }

  private missing(rule: ResolvedRule, pathOrPattern: string, out: RotateAction[]): void {
    if (rule.missingOk) {
      out.push({ kind: "skip", rule: rule.name, path: pathOrPattern, reasons: ["missing (missing-ok)"], status: this.status() });
      return;
    }
    const message = `${pathOrPattern} does not exist; nothing to rotate. Set missing-ok on the rule if that is expected.`;
    out.push({ kind: "skip", rule: rule.name, path: pathOrPattern, reasons: ["missing"], status: "failed", error: message });
    this.result.failed++;
    this.warn({ code: "MISSING", path: pathOrPattern, message });
  }

  private fail(rule: ResolvedRule, kind: RotateAction["kind"], path: string, err: unknown, code: WarningCode, reasons: string[], out: RotateAction[]): void {
    const message = describe(err, path);
    out.push({ kind, rule: rule.name, path, reasons, status: "failed", error: message });
    this.result.failed++;
    this.warn({ code, path, message });
  }

  private status(): "planned" | "done" {
    return this.dryRun ? "planned" : "done";
  }
}

/**
 * Drops what a glob matched that is a rotated copy of another matched log (`/var/log/app/*`
 * matches `app.log.1` too): it is not a log of its own. Compared within each directory.
 */
function withoutCopies(paths: readonly { path: string; fromGlob: boolean }[], rule: ResolvedRule): { path: string }[] {
  const byDir = new Map<string, string[]>();
  for (const p of paths) {
    const d = dirname(p.path);
    const list = byDir.get(d);
    if (list) list.push(basename(p.path));
    else byDir.set(d, [basename(p.path)]);
  }
  return paths.filter((p) => {
    if (!p.fromGlob) return true;
    const name = basename(p.path);
    return !(byDir.get(dirname(p.path)) ?? []).some((o) => o !== name && name.startsWith(o) && parseCopyName(o, name, rule) !== undefined);
  });
}

/** The copy just made is the newest, whatever the clock wrote into names and times. */
function freshFirst(copies: CopyFile[], fresh: string): CopyFile[] {
  const f = copies.find((c) => c.path === fresh);
  if (!f) return copies;
  const top = copies.reduce((m, c) => (c.mtime > m ? c.mtime : m), f.mtime);
  return [{ ...f, mtime: top, parsed: { ...f.parsed, key: [Number.MAX_SAFE_INTEGER] } }, ...copies.filter((c) => c !== f)];
}

function latest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

function describe(err: unknown, path: string): string {
  if (isCofferError(err)) return err.message;
  const code = sysCode(err);
  if (code === "ENOSPC" || code === "EDQUOT") return `No space left while rotating ${path}; the log was left as it was. Free some space and run the rotation again.`;
  if (code === "EROFS") return `Cannot rotate ${path}: read-only file system; the log was left as it was.`;
  if (code === "EACCES" || code === "EPERM") return `Cannot rotate ${path}: permission denied; the log was left as it was.`;
  const msg = err instanceof Error ? err.message : String(err);
  return `Failed on ${path}: ${msg}`;
}

