/**
 * Bytes on stdout, for `dump` and `cat blob|pack`. The context's writers are typed for text;
 * in a real process they hand whatever they get to `process.stdout.write`, which takes
 * Buffers, so bytes go through them unchanged (and progress bars still get hidden). Writes to
 * files and pipes are synchronous on Linux; on anything slower we wait for "drain", so a
 * dump of any size holds at most a few blobs in memory.
 */
import type { ByteSink } from "../snapshot/dump.js";
import type { Context } from "./context.js";

export function stdoutSink(ctx: Context): ByteSink {
  return {
    write(chunk) {
      ctx.stdout.write(chunk as unknown as string);
      if (!process.stdout.writableNeedDrain) return;
      return new Promise<void>((resolve) => process.stdout.once("drain", resolve));
    },
  };
}
