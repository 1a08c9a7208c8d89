import * as fsSync from "node:fs";
import { Writable } from "node:stream";
import { systemClock, type Clock } from "../core/clock.js";
import { CofferError, sysCode } from "../core/errors.js";
import { copyDirs, findCopies } from "./find-copies.js";
import { maintainCopies } from "./maintain-copies.js";
import { nextBoundary } from "./next-boundary.js";
import { planCopies } from "./plan-copies.js";
import { nodeRotateFs, type RotateFs } from "./rotate-fs.js";
import type { Warning, WarningSink } from "../core/warning.js";
import { resolveRule, type ResolvedRule, type RotateDefaults, type RotateRule } from "./rule.js";
import { swapLiveFile } from "./swap-live-file.js";

export type StreamRule = Omit<RotateRule, "files">;

export interface RotatingStreamOptions {
  clock?: Clock;
  /** Write every chunk at once instead of gathering the writes of one tick (slower, nothing buffered). */
  sync?: boolean;
  /** Gathered bytes that are written at once; default 64 KiB. */
  flushBytes?: number;
  /** Default: `process.emitWarning`. */
  onWarning?: WarningSink;
  /** For compressing, archiving and deleting old copies in the background. */
  fs?: RotateFs;
  /** Flush on `beforeExit` and `exit` (default true); the handlers go when the stream closes. */
  exitHandlers?: boolean;
  /** Mode of a new log file; default 0o644 (an existing file keeps its own). */
  mode?: number;
  defaults?: RotateDefaults;
}

/** Past this many bytes over the limit, a writer that never ends a write with "\n" is rotated mid-line. */
const LINE_SLACK = 1 << 20;
const RETRY_MS = 60_000;

/**
 * A Writable that appends to a log file and rotates it in-process: when the size or the interval
 * of the rule says so, between two writes and only after a write that ended a line, the file is
 * renamed to its dated copy name and a new one opened. No line is lost or written twice: writes
 * are gathered for one tick and written with one writev, a rotation first writes what is
 * gathered, and the rename and reopen are synchronous, so every byte lands in exactly one file.
 * Old copies are compressed, archived and deleted in the background, as `rotate` does.
 *
 * One stream owns its file: two streams (or processes) rotating the same path would each rename
 * the other's file. Other threads write through the owner (pino's transport runs it in a worker).
 */
export class RotatingStream extends Writable {
  readonly path: string;
  readonly rule: ResolvedRule;
  /** Rotations done by this stream. */
  rotations = 0;
  #fd: number;
  #fileMode: number;
  #size: number;
  #endsLine: boolean;
  #started: number;
  #boundary = Infinity;
  #retryAt = 0;
  #pending: (Buffer | string)[] = [];
  #pendingBytes = 0;
  #flushQueued = false;
  #maintaining: Promise<void> | undefined;
  #maintainAgain = false;
  #fresh: string | undefined;
  readonly #clock: Clock;
  readonly #sync: boolean;
  readonly #flushBytes: number;
  readonly #warn: WarningSink;
  readonly #fs: RotateFs;
  readonly #onExit = (): void => this.#exit();
  readonly #onBeforeExit = (): void => this.#flushQuietly();
  readonly #exitHandlers: boolean;

  constructor(path: string, rule: StreamRule = {}, opts: RotatingStreamOptions = {}) {
    // Strings are kept as they come and joined once per write to disk: cheaper than a Buffer per line.
    super({ decodeStrings: false });
    this.path = path;
    this.rule = resolveRule({ ...rule, files: [path] }, 0, opts.defaults);
    if (this.rule.naming === "numbered") throw new CofferError("INVALID", "The rotating stream names copies by date: numbered names are shifted by renames that would race with its background compression.", { field: "naming" });
    if (this.rule.mode !== "create") throw new CofferError("INVALID", `The rotating stream renames and reopens its file; mode "${this.rule.mode}" does not apply to it.`, { field: "mode" });
    if (this.rule.postRotate !== undefined || this.rule.signal !== undefined) throw new CofferError("INVALID", "The rotating stream reopens its own file: postRotate and signal do not apply to it.", { field: "postRotate" });
    this.#clock = opts.clock ?? systemClock;
    this.#sync = opts.sync === true;
    this.#flushBytes = opts.flushBytes ?? 64 * 1024;
    this.#warn = opts.onWarning ?? ((w: Warning) => process.emitWarning(w.message, { code: `COFFER_${w.code}` }));
    this.#fs = opts.fs ?? nodeRotateFs;
    this.#fd = fsSync.openSync(path, "a", opts.mode ?? 0o644);
    const st = fsSync.fstatSync(this.#fd);
    this.#fileMode = st.mode & 0o7777;
    this.#size = st.size;
    this.#endsLine = st.size === 0 || lastByte(path, st.size) === 0x0a;
    const now = this.#clock().getTime();
    // The first line is no later than the creation or the last change, nor than now.
    const birth = st.birthtimeMs > 0 ? Math.min(st.birthtimeMs, st.mtimeMs) : st.mtimeMs;
    this.#started = st.size === 0 ? now : Math.min(birth, now);
    if (this.rule.interval !== undefined) this.#boundary = nextBoundary(this.rule.calendar, this.rule.interval, this.#started);
    this.#exitHandlers = opts.exitHandlers !== false;
    if (this.#exitHandlers) {
      process.on("exit", this.#onExit);
      process.on("beforeExit", this.#onBeforeExit);
    }
    if (this.rule.maintain === "always") this.#maintain();
  }

  override _write(chunk: Buffer | string, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      this.#add(utf8(chunk, enc));
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _writev(chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    try {
      for (const c of chunks) this.#add(utf8(c.chunk, c.encoding));
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.flushSync();
    } catch (err) {
      cb(err as Error);
      return;
    }
    this.idle().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#flushQuietly();
    this.#detach();
    if (this.#fd >= 0) {
      try {
        fsSync.closeSync(this.#fd);
      } catch {
        // already closed by the exit handler
      }
      this.#fd = -1;
    }
    cb(err);
  }

  /** Writes what is gathered now, synchronously. */
  flushSync(): void {
    if (this.#pendingBytes === 0) return;
    const parts = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    writevAll(this.#fd, joinStrings(parts));
  }

  /** Resolves when the background compression, archiving and deleting is done. */
  async idle(): Promise<void> {
    while (this.#maintaining) await this.#maintaining;
  }

  /** Rotates now, between two writes (e.g. on SIGHUP), whatever the rule says. */
  rotateNow(): void {
    this.flushSync();
    if (this.#size > 0) this.#rotate(this.#clock().getTime());
  }

  #add(chunk: Buffer | string): void {
    if (typeof chunk === "string") {
      const len = Buffer.byteLength(chunk);
      const limit = this.rule.size ?? this.rule.maxSize;
      if (limit === undefined || this.#size + len <= limit) {
        if (len === 0) return;
        if (this.#size > 0) this.#maybeRotate(len);
        this.#append(chunk, len, chunk.charCodeAt(chunk.length - 1) === 0x0a);
        return;
      }
      chunk = Buffer.from(chunk); // near the limit: split by bytes
    }
    let rest = chunk;
    while (rest.length > 0) {
      const part = this.#nextPart(rest);
      if (this.#size > 0) this.#maybeRotate(part.length);
      this.#append(part, part.length, part[part.length - 1] === 0x0a);
      rest = rest.subarray(part.length);
    }
  }

  /**
   * What of `buf` goes into the current file: all of it, or — when it would pass the size
   * limit and holds several lines (pino's worker hands over batches) — the whole lines that
   * fit, else its first line, so that the next one can start a new file.
   */
  #nextPart(buf: Buffer): Buffer {
    const limit = this.rule.size ?? this.rule.maxSize;
    if (limit === undefined || this.#size + buf.length <= limit) return buf;
    const room = limit - this.#size;
    if (room > 0) {
      const nl = buf.lastIndexOf(0x0a, room - 1);
      if (nl >= 0) return buf.subarray(0, nl + 1);
    }
    const first = buf.indexOf(0x0a);
    return first < 0 || first === buf.length - 1 ? buf : buf.subarray(0, first + 1);
  }

  #append(part: Buffer | string, len: number, endsLine: boolean): void {
    this.#pending.push(part);
    this.#pendingBytes += len;
    this.#size += len;
    this.#endsLine = endsLine;
    if (this.#sync || this.#pendingBytes >= this.#flushBytes || this.#pending.length >= 1000) this.flushSync();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(() => {
        this.#flushQueued = false;
        try {
          this.flushSync();
        } catch (err) {
          this.destroy(err as Error);
        }
      });
    }
  }

  #maybeRotate(len: number): void {
    const r = this.rule;
    const limit = r.size ?? r.maxSize;
    let due = limit !== undefined && this.#size + len > limit;
    let now = 0;
    if (!due && this.#boundary !== Infinity) {
      now = this.#clock().getTime();
      if (now >= this.#boundary) {
        due = this.#guardsPass(now);
        if (!due) this.#boundary = nextBoundary(r.calendar, r.interval ?? "daily", now);
      }
    }
    if (!due) return;
    // Keep lines whole: wait for a write that ends one, unless the writer never does.
    if (!this.#endsLine && this.#size < (limit ?? 0) + LINE_SLACK) return;
    now ||= this.#clock().getTime();
    if (now < this.#retryAt) return;
    this.#rotate(now);
  }

  #guardsPass(now: number): boolean {
    const r = this.rule;
    if (r.minSize !== undefined && this.#size < r.minSize) return false;
    if (r.minAge !== undefined && this.#started > r.calendar.subtract(new Date(now), r.minAge).getTime()) return false;
    return true;
  }

  #rotate(now: number): void {
    this.flushSync();
    const r = this.rule;
    let target: string;
    try {
      ({ target, fd: this.#fd } = swapLiveFile(this.path, this.#fd, this.#fileMode, r, { now: new Date(now), started: new Date(this.#started) }));
    } catch (err) {
      this.#retryAt = now + RETRY_MS;
      this.#warn({ code: sysCode(err) === "ENOSPC" ? "NO_SPACE" : "FAILED", path: this.path, message: `Cannot rotate ${this.path} (${sysCode(err) ?? String(err)}); writing on to it and trying again in a minute.` });
      return;
    }
    this.#size = 0;
    this.#endsLine = true;
    this.#started = now;
    if (r.interval !== undefined) this.#boundary = nextBoundary(r.calendar, r.interval, now);
    this.rotations++;
    this.#fresh = target;
    this.emit("rotate", target);
    this.#maintain();
  }

  #maintain(): void {
    if (this.#maintaining) {
      this.#maintainAgain = true;
      return;
    }
    this.#maintaining = (async () => {
      do {
        this.#maintainAgain = false;
        try {
          await this.#maintainOnce();
        } catch (err) {
          this.#warn({ code: "FAILED", path: this.path, message: `Maintaining the copies of ${this.path} failed: ${(err as Error).message}` });
        }
      } while (this.#maintainAgain);
    })().finally(() => (this.#maintaining = undefined));
  }

  async #maintainOnce(): Promise<void> {
    const dirs = copyDirs(this.path, this.rule);
    const copies = await findCopies(this.#fs, this.path, this.rule, dirs);
    const fresh = this.#fresh;
    const ordered = fresh === undefined ? copies : [...copies.filter((c) => c.path === fresh).map((c) => ({ ...c, parsed: { ...c.parsed, key: [Number.MAX_SAFE_INTEGER] } })), ...copies.filter((c) => c.path !== fresh)];
    const steps = planCopies(ordered, this.rule, dirs, this.#clock());
    await maintainCopies(this.#fs, this.rule, steps, (o) => {
      if (o.warning) this.#warn(o.warning);
    });
  }

  #flushQuietly(): void {
    if (this.#fd < 0) return;
    try {
      this.flushSync();
    } catch {
      // nothing more can be done at exit
    }
  }

  #exit(): void {
    this.#flushQuietly();
    if (this.#fd >= 0) {
      try {
        fsSync.closeSync(this.#fd);
      } catch {
        // closed already
      }
      this.#fd = -1;
    }
  }

  #detach(): void {
    if (!this.#exitHandlers) return;
    process.off("exit", this.#onExit);
    process.off("beforeExit", this.#onBeforeExit);
  }
}

/** A Writable appending to `path` that rotates it by `rule` (defaults: `ROTATE_DEFAULTS`). */
export function createRotatingStream(path: string, rule: StreamRule = {}, opts: RotatingStreamOptions = {}): RotatingStream {
  return new RotatingStream(path, rule, opts);
}

/** A chunk as a UTF-8 string or a Buffer (strings in other encodings are decoded to bytes). */
function utf8(chunk: Buffer | string, enc: BufferEncoding | "buffer"): Buffer | string {
  if (typeof chunk !== "string" || enc === "utf8" || enc === "utf-8") return chunk;
  return Buffer.from(chunk, enc as BufferEncoding);
}

/** Runs of strings become one Buffer each; Buffers stay as they are. */
function joinStrings(parts: (Buffer | string)[]): Buffer[] {
  const out: Buffer[] = [];
  let run: string[] = [];
  for (const p of parts) {
    if (typeof p === "string") run.push(p);
    else {
      if (run.length > 0) out.push(Buffer.from(run.join("")));
      run = [];
      out.push(p);
    }
  }
  if (run.length > 0) out.push(Buffer.from(run.join("")));
  return out;
}

function writevAll(fd: number, bufs: Buffer[]): void {
  let list = bufs;
  while (list.length > 0) {
    const total = list.reduce((n, b) => n + b.length, 0);
    let written = fsSync.writevSync(fd, list);
    if (written === total) return;
    const rest: Buffer[] = [];
    for (const b of list) {
      if (written >= b.length) written -= b.length;
      else {
        rest.push(b.subarray(written));
        written = 0;
      }
    }
    list = rest;
  }
}

function lastByte(path: string, size: number): number {
  const b = Buffer.alloc(1);
  const fd = fsSync.openSync(path, "r");
  try {
    fsSync.readSync(fd, b, 0, 1, size - 1);
  } finally {
    fsSync.closeSync(fd);
  }
  return b[0] as number;
}
