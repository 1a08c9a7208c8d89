import { once } from "node:events";
import type { Transform } from "node:stream";

/**
 * Runs an async iterable of chunks through a Node Transform (zlib, zstd) and yields what comes
 * out, with backpressure both ways: the source is read only as fast as the output is consumed.
 * An error of the source or of the transform is thrown by the returned iterator; stopping the
 * iteration early destroys the transform and stops reading the source.
 */
export async function* throughTransform(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, t: Transform): AsyncGenerator<Buffer> {
  const stop = new AbortController();
  const feed = (async () => {
    try {
      for await (const chunk of source) {
        if (stop.signal.aborted) return;
        if (!t.write(chunk)) await once(t, "drain", { signal: stop.signal });
      }
      t.end();
    } catch (err) {
      if (!stop.signal.aborted) t.destroy(err as Error);
    }
  })();
  try {
    for await (const out of t) yield out as Buffer;
    await feed;
  } finally {
    stop.abort();
    t.destroy();
  }
}
