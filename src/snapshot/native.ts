import { spawnSync } from "node:child_process";
import { fchmodSync, fchownSync, futimesSync, lutimesSync } from "node:fs";
import { CofferError } from "../core/errors.js";
import { loadAddon } from "../core/native-addon.js";
import { strictUtf8 } from "./tree.js";

/**
 * The optional native addon (native/coffer_native.c, built by node-gyp into
 * build/Release/coffer_native.node). Node's fs sets times from doubles, which loses
 * sub-microsecond precision, and cannot make fifos or device nodes; the addon can. Without it
 * restores still work: times are set through fs (to ~the microsecond), fifos through the
 * `mkfifo` command, and device nodes are skipped with a warning. A backup's walk also lists
 * directories through it (`scandir`), or through fs without it.
 */
export interface NativeFs {
  /** Times in ns since the epoch; atime null leaves it unchanged; nofollow acts on a symlink itself. */
  utimensat(path: Buffer, atimeNs: bigint | null, mtimeNs: bigint, nofollow: boolean): void;
  futimens(fd: number, atimeNs: bigint | null, mtimeNs: bigint): void;
  lchown(path: Buffer, uid: number, gid: number): void;
  mkfifo(path: Buffer, mode: number): void;
  /** `mode` includes the file type bits (S_IFCHR, S_IFBLK). */
  mknod(path: Buffer, mode: number, dev: bigint): void;
  /** A directory's entries with their lstat results, in the layout entry-stat.ts reads (absent from addons built before it). */
  scandir?(path: Buffer): Buffer;
  /** Background threads that list and lstat a tree ahead of a walk (native/prefetch.c; absent from older addons). */
  prefetchTree?(root: Buffer, threads: number, maxEntries: number): PrefetchHandle;
  /** warm: the job stopped early because its first entries needed no disk reads; reads: block reads (512-byte units) the listing caused. */
  prefetchStatus?(h: PrefetchHandle): { entries: number; dirs: number; done: boolean; warm: boolean; reads: number };
  stopPrefetch?(h: PrefetchHandle): void;
}

/** An opaque handle of a running prefetch. */
export type PrefetchHandle = { readonly __prefetch: unique symbol };

/**
 * The addon's file-system functions (core/native-addon.ts finds and loads it), or undefined
 * without it. COFFER_NATIVE=0 disables it, so the fallback can be tested.
 */
export function loadNative(): NativeFs | undefined {
  return loadAddon() as NativeFs | undefined;
}

/** Seconds as a double, the form fs.utimes takes. */
function seconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return Number(s) + Number(ns - s * 1_000_000_000n) / 1e9;
}

/**
 * Sets the times of a path without following a final symlink; ns-exact with the addon. An
 * unknown atime is left alone with the addon and set to now without it (fs needs both).
 */
export function setTimes(native: NativeFs | undefined, path: Buffer, atimeNs: bigint | undefined, mtimeNs: bigint): void {
  if (native) {
    native.utimensat(path, atimeNs ?? null, mtimeNs, true);
    return;
  }
  lutimesSync(path, atimeNs === undefined ? Date.now() / 1000 : seconds(atimeNs), seconds(mtimeNs));
}

/** Sets the times of an open file; ns-exact with the addon. */
export function setFdTimes(native: NativeFs | undefined, fd: number, atimeNs: bigint | undefined, mtimeNs: bigint): void {
  if (native) {
    native.futimens(fd, atimeNs ?? null, mtimeNs);
    return;
  }
  futimesSync(fd, atimeNs === undefined ? Date.now() / 1000 : seconds(atimeNs), seconds(mtimeNs));
}

/** Metadata of a restored file, applied through an open fd. */
export interface FdMeta {
  mode: number;
  /** Set when owners are restored (running as root). */
  uid?: number;
  gid?: number;
  atimeNs?: bigint;
  mtimeNs: bigint;
}

/** Owner first (chown clears set-id bits), then mode, then times (after every write). */
export function applyFdMeta(native: NativeFs | undefined, fd: number, m: FdMeta): void {
  if (m.uid !== undefined && m.gid !== undefined) fchownSync(fd, m.uid, m.gid);
  fchmodSync(fd, m.mode);
  setFdTimes(native, fd, m.atimeNs, m.mtimeNs);
}

/** A fifo, with the addon or else the mkfifo command (which needs a UTF-8 path). */
export function makeFifo(native: NativeFs | undefined, abs: Buffer, mode: number): void {
  if (native) return native.mkfifo(abs, mode);
  const path = strictUtf8(abs);
  if (path === undefined) throw new CofferError("UNSUPPORTED", "its name is not UTF-8 and the native addon is not built");
  const r = spawnSync("mkfifo", ["-m", mode.toString(8), "--", path]);
  if (r.status !== 0) throw new CofferError("UNSUPPORTED", `mkfifo failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
}

