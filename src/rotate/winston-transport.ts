import { Writable } from "node:stream";
import { createRotatingStream, type RotatingStream, type RotatingStreamOptions, type StreamRule } from "./rotating-stream.js";

const LEVEL = Symbol.for("level");
const MESSAGE = Symbol.for("message");

export interface RotatingFileTransportOptions {
  path: string;
  rule?: StreamRule;
  stream?: RotatingStreamOptions;
  /** Log only this level and more severe ones; default the logger's. */
  level?: string;
  silent?: boolean;
  /** A winston format applied to each message before it is written. */
  format?: { transform(info: Record<string | symbol, unknown>, opts?: unknown): Record<string | symbol, unknown> | boolean };
  /** Line ending; default "\n". */
  eol?: string;
}

type Info = Record<string | symbol, unknown>;

/**
 * A winston transport writing through a rotating stream: `logger.add(new RotatingFileTransport({ path, rule }))`.
 * It has winston-transport's shape (an object-mode Writable with `log(info, next)`, levels from
 * the logger it is piped from) without depending on winston, so coffer does not pull it in.
 */
export class RotatingFileTransport extends Writable {
  readonly name = "coffer-rotating-file";
  readonly stream: RotatingStream;
  level: string | undefined;
  silent: boolean;
  format: RotatingFileTransportOptions["format"];
  levels: Record<string, number> | undefined;
  private parent: { levels?: Record<string, number>; level?: string } | undefined;
  private readonly eol: string;

  constructor(opts: RotatingFileTransportOptions) {
    super({ objectMode: true });
    this.stream = createRotatingStream(opts.path, opts.rule ?? {}, opts.stream ?? {});
    this.level = opts.level;
    this.silent = opts.silent === true;
    this.format = opts.format;
    this.eol = opts.eol ?? "\n";
    this.stream.on("error", (err) => this.emit("error", err));
    this.on("pipe", (logger: { levels?: Record<string, number>; level?: string }) => {
      this.levels = logger.levels;
      this.parent = logger;
    });
    this.on("unpipe", (src: unknown) => {
      if (src === this.parent) this.parent = undefined;
    });
  }

  override _write(info: Info, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.silent) return cb();
    const level = this.level ?? this.parent?.level;
    const levels = this.levels ?? this.parent?.levels;
    const own = info[LEVEL] as string | undefined;
    if (level !== undefined && levels !== undefined && own !== undefined && (levels[own] ?? 0) > (levels[level] ?? Infinity)) return cb();
    let out: Info | boolean = info;
    if (this.format) out = this.format.transform({ ...info }, undefined);
    if (out === false || out === true) return cb();
    this.log(out, cb);
  }

  /** winston's entry point: writes the formatted message as one line. */
  log(info: Info, next: () => void): void {
    const msg = info[MESSAGE];
    const line = typeof msg === "string" ? msg : JSON.stringify(info);
    this.stream.write(line + this.eol);
    this.emit("logged", info);
    next();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.stream.end(() => cb());
  }

  /** Called by winston when the transport is removed or the logger closes. */
  close(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }
}
