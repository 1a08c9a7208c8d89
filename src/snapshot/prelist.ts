import { lstatSync } from "node:fs";
import { posix } from "node:path";
import { performance } from "node:perf_hooks";
import { childPath } from "./child-path.js";
import { listedSubdirs } from "./entry-stat.js";
import { loadNative } from "./native.js";

/**
 * Directory listings read before a backup's walk needs them, while the key is derived.
 *
 * Opening a repository spends about half a second in scrypt, on a thread of libuv's pool,
 * with the main thread idle. An unchanged backup's walk then spends a fifth of its time
 * listing directories and lstat-ing their entries. `startPrelist` does that listing in the
 * idle time: depth first in name order (the walk's order), in slices of a few milliseconds so
 * the key's arrival waits at most one slice, keeping each directory's listing as the addon's
 * compact bytes. The walk takes a listing from here instead of listing the directory again
 * (`takePrelisted`); what it never takes is dropped when the backup ends.
 *
 * A listing taken here is at most the key derivation older than one the walk would take,
 * and a walk is never an atomic view of a live tree anyway: a file's content is checked
 * against its listed size and times when it is read. Filters are not applied (an excluded
 * subtree is listed for nothing), the read-ahead never leaves a root's file system, and it
 * stops at MAX_BYTES of listings. Without the native addon it does nothing.
 */
const listings = new Map<string, Buffer>();
let held = 0;
/** Set while a read-ahead runs; calling it stops it. */
let stopRunning: (() => void) | undefined;

/** A bound on the listings held (about 250,000 entries). */
const MAX_BYTES = 32 * 1024 * 1024;
/** How long one slice of listing may hold the main thread. */
const SLICE_MS = 4;

/**
 * Starts reading ahead the trees of the given absolute paths (directories; others are
 * ignored). Stop it with `stopPrelist` when the walk is about to start.
 */
export function startPrelist(paths: readonly string[]): void {
  const scandir = loadNative()?.scandir;
  if (!scandir || stopRunning) return;
  const stack: { dir: Buffer; dev: bigint }[] = [];
  for (const p of [...paths].reverse()) {
    try {
      const st = lstatSync(p, { bigint: true });
      if (st.isDirectory()) stack.push({ dir: Buffer.from(normalized(p), "latin1"), dev: st.dev });
    } catch {
      // The backup reports a missing or unreadable path itself.
    }
  }
  let stopped = false;
  let timer: NodeJS.Immediate | undefined;
  const slice = (): void => {
    timer = undefined;
    const until = performance.now() + SLICE_MS;
    while (!stopped && stack.length > 0 && held < MAX_BYTES && performance.now() < until) {
      const { dir, dev } = stack.pop()!;
      let listing: Buffer;
      try {
        listing = scandir(dir);
      } catch {
        continue; // the walk meets the error and reports it
      }
      listings.set(dir.toString("latin1"), listing);
      held += listing.length;
      const subdirs = listedSubdirs(listing, dev).sort(Buffer.compare);
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push({ dir: childPath(dir, subdirs[i]!), dev });
    }
    if (stopped || stack.length === 0 || held >= MAX_BYTES) return stopPrelist();
    timer = setImmediate(slice);
  };
  stopRunning = () => {
    stopped = true;
    if (timer) clearImmediate(timer);
    stopRunning = undefined;
  };
  timer = setImmediate(slice);
}

/** Stops the read-ahead; what it listed stays for the walk to take. */
export function stopPrelist(): void {
  stopRunning?.();
}

/** The listing read ahead for `dir` (as the addon's `scandir` returns it), given out once. */
export function takePrelisted(dir: Buffer): Buffer | undefined {
  if (listings.size === 0) return undefined;
  const key = dir.toString("latin1");
  const listing = listings.get(key);
  if (listing === undefined) return undefined;
  listings.delete(key);
  held -= listing.length;
  return listing;
}

/** Stops the read-ahead and drops every listing the walk did not take. */
export function dropPrelisted(): void {
  stopPrelist();
  listings.clear();
  held = 0;
}

/** How many directories' listings are held (for tests). */
export function prelistedCount(): number {
  return listings.size;
}

function normalized(p: string): string {
  const s = posix.normalize(p);
  return s.length > 1 && s.endsWith("/") ? s.slice(0, -1) : s;
}
