import { loadNative } from "./native.js";
import { normalizeRoot } from "./scanner.js";

/** The addon's list-ahead thread (native/list-ahead.c). */
type Handle = { readonly __listAhead: unique symbol };
interface ListAheadAddon {
  listAhead(roots: Buffer[], maxBytes: number): Handle;
  takeListed(h: Handle, dir: Buffer): Buffer | undefined;
  stopListAhead(h: Handle): void;
}

/** How far ahead of the walk the thread may list (about 9,000 entries; the walk takes 10,000 to 20,000 a second). */
const MAX_BYTES = 1024 * 1024;

let running: { addon: ListAheadAddon; handle: Handle; taken: number; missed: number } | undefined;

/**
 * Starts listing the trees of `paths` (absolute; those that are not directories are left
 * out; spelled as the walk spells a root, see scanner.ts normalizeRoot) on a thread of the native addon, ahead of a backup's walk, in the walk's order: see
 * native/list-ahead.c. A backup's walk spent a fifth of its thread's time listing
 * directories and lstat-ing their entries; the thread does it beside the walk (and, started
 * before the repository is opened, while the key is derived), and the walk takes each
 * listing with `takeListed`. Filters are not applied: an excluded subtree is listed for
 * nothing, up to the bound on how far ahead the thread runs. One list-ahead runs at a time
 * in a process (a later start while one runs does nothing); without the addon this does
 * nothing and the walk lists every directory itself.
 */
export function startListAhead(paths: readonly Buffer[]): void {
  if (running) return;
  const addon = loadNative() as Partial<ListAheadAddon> | undefined;
  if (!addon?.listAhead || !addon.takeListed || !addon.stopListAhead) return;
  const roots = paths.filter((p) => p[0] === 0x2f).map(normalizeRoot); // relative: the walk refuses them
  running = { addon: addon as ListAheadAddon, handle: addon.listAhead(roots, MAX_BYTES), taken: 0, missed: 0 };
}

/**
 * The listing of `dir` made ahead (in the layout of the addon's `scandir`), given out once,
 * or undefined when the thread has not made it (or none runs): the caller lists it itself.
 * A listing is at most as old as the thread is ahead of the walk: the walk is not an atomic
 * view of a live tree either. A file that changes after it was listed is still checked for
 * changes while it is read, and its node keeps the listed times, so the next backup reads
 * it again.
 */
export function takeListed(dir: Buffer): Buffer | undefined {
  if (!running) return undefined;
  const listing = running.addon.takeListed(running.handle, dir);
  if (listing) running.taken++;
  else running.missed++;
  return listing;
}

/** Stops the thread and frees what it listed. */
export function stopListAhead(): void {
  const r = running;
  running = undefined;
  if (!r) return;
  r.addon.stopListAhead(r.handle);
  last = { taken: r.taken, missed: r.missed };
}

let last = { taken: 0, missed: 0 };

/** Whether a list-ahead runs, and what the last one stopped gave the walk (for tests). */
export function listAheadState(): { running: boolean; last: { taken: number; missed: number } } {
  return { running: running !== undefined, last };
}
