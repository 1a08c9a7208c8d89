import { createRotatingStream, type RotatingStream, type RotatingStreamOptions, type StreamRule } from "./rotating-stream.js";

export interface PinoTransportOptions {
  /** The log file. */
  path: string;
  rule?: StreamRule;
  /** `sync` and `flushBytes` of the stream (the rest cannot cross into pino's worker thread). */
  stream?: Pick<RotatingStreamOptions, "sync" | "flushBytes" | "mode">;
}

/**
 * A pino transport: `pino.transport({ target: "coffer/rotate/pino-transport", options: { path, rule } })`
 * (or the absolute path of this file). pino runs it in a worker thread and writes whole log
 * lines to the returned stream, which rotates the file as `createRotatingStream` does.
 */
export default function pinoTransport(opts: PinoTransportOptions): RotatingStream {
  return createRotatingStream(opts.path, opts.rule ?? {}, opts.stream ?? {});
}
