import { loadAddon } from "../core/native-addon.js";

/** native/malloc-tune.c: glibc malloc's arena count and mmap and trim thresholds; false where not glibc. */
type TuneMalloc = (arenaMax: number, mmapThreshold: number, trimThreshold: number) => boolean;

/** Blocks of this size or more are mapped on their own and given back when freed. */
export const MMAP_THRESHOLD = 256 * 1024;
/** Free memory at the top of an arena beyond this is given back at once. */
export const TRIM_THRESHOLD = 1024 * 1024;
/** Arenas the C allocator may create (threads share them). */
export const ARENA_MAX = 2;

/**
 * Sets the C allocator's limits for this process (see native/malloc-tune.c): with glibc's
 * defaults, megabyte blocks freed by a backup's threads stayed resident in per-thread arenas.
 * Called once by the CLI before any work; a library user keeps the process's own settings.
 * Returns whether the limits were set (false without the native addon or without glibc).
 */
export function tuneProcessMemory(): boolean {
  const tune = loadAddon()?.tuneMalloc as TuneMalloc | undefined;
  return tune?.(ARENA_MAX, MMAP_THRESHOLD, TRIM_THRESHOLD) ?? false;
}
