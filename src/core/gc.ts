import v8 from "node:v8";
import vm from "node:vm";
import { loadAddon } from "./native-addon.js";

/**
 * A full garbage collection, now. V8 frees dead Buffers (off its heap) and promoted garbage
 * only when it collects, which a thread that allocates little on its heap rarely does; a
 * restore's threads call this at points where much has just died.
 */
export function collectGarbage(): void {
  collect();
  liveAfter = v8.getHeapStatistics().used_heap_size;
  afterCollect?.();
}

let liveAfter = 0;

/**
 * A full collection if the heap has grown by `bytes` since the last one made here (each costs
 * some tens of milliseconds on a heap of 20 MB: not after every batch of work).
 */
export function collectGarbageIfGrown(bytes: number): void {
  if (v8.getHeapStatistics().used_heap_size >= liveAfter + bytes) collectGarbage();
}

/**
 * A collection of the young generation only (a millisecond or two): enough to free the
 * Buffers of a thread whose garbage dies young, such as a worker decrypting blob after blob.
 */
export function collectYoungGarbage(): void {
  collect({ type: "minor" });
  afterCollect?.();
}

let afterCollect: (() => void) | undefined;

/**
 * For a worker thread: after each collection made here, give the memory of the Buffers it
 * freed back to the system (the native addon's trimMalloc, glibc's malloc_trim), where the C
 * allocator would otherwise keep it resident. Nothing without the addon; `null` turns it off
 * (tests pass their own function).
 */
export function trimAfterCollections(trim: (() => unknown) | null = (loadAddon()?.trimMalloc as (() => boolean) | undefined) ?? null): void {
  afterCollect = trim ? () => void trim() : undefined;
}

v8.setFlagsFromString("--expose-gc");
const collect = vm.runInNewContext("gc") as (opts?: { type: "major" | "minor" }) => void;

/**
 * Keeps this process's young generations at the size they have now. V8 grows them to 16 MiB
 * per semi-space (32 MiB per isolate) when much of what is allocated lives a while, as in the
 * main thread of a restore: most of that space then holds dead objects and counts in the
 * resident size. (So `--max-semi-space-size=2` in bin/coffer.js has no effect.)
 * `--max-semi-space-size` cannot be changed once V8 is running, but the growth factor can;
 * every new isolate (worker thread) sets it back to 2, so call this after the workers have
 * started. Collections of the young generation become more frequent, and each one cheaper.
 */
export function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString("--semi-space-growth-factor=1");
}

/**
 * Leaves V8's memory-saving mode (`--optimize-for-size`, which bin/coffer.js sets for every
 * command), in this thread and in worker threads started later. In that mode V8 collects
 * more often and compacts each time. A restore from a repository that is not a local
 * directory, whose main thread receives every byte of pack data, spent a fifth of its time
 * in those collections (S3 on loopback, restored to tmpfs: 11.7-13.9 s with it, 9.5-10.6 s
 * without, for 15 MB more at the peak; docs/performance.md).
 */
export function favourSpeedOverMemory(): void {
  v8.setFlagsFromString("--no-optimize-for-size");
}
