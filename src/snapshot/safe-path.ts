import { type BigIntStats, constants, lstatSync, mkdirSync, openSync, rmSync, unlinkSync } from "node:fs";
import { CofferError, sysCode } from "../core/errors.js";

/**
 * Path safety for writing a snapshot into a target directory. The rules:
 *
 * - A name from a tree is one path component: never "", ".", "..", and never holding "/" or
 *   NUL. Anything else is refused (warning UNSAFE_PATH) and nothing is written for it.
 * - Paths are built from the target downwards one component at a time, and each directory is
 *   entered only after lstat says it is a real directory (not a symlink to somewhere else).
 *   A directory that is not one is replaced (its link removed, never followed) or refused.
 * - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW and opened later with O_NOFOLLOW, so a
 *   symlink in the last component is never written through either.
 * - Symlinks are restored (with their target text, absolute or not) only after every file
 *   has been written, and nothing is ever written below one.
 */
const SLASH = 0x2f;
const DOT = 0x2e;

/** Why a tree node's name cannot be a path component, or undefined when it can. */
export function unsafeNameReason(name: Uint8Array): string | undefined {
  if (name.length === 0) return "an empty name";
  if (name.length === 1 && name[0] === DOT) return 'the name "."';
  if (name.length === 2 && name[0] === DOT && name[1] === DOT) return 'the name ".."';
  if (name.includes(SLASH)) return 'a name holding "/"';
  if (name.includes(0)) return "a name holding a NUL byte";
  return undefined;
}

/** `parent/name` as raw bytes (names need not be valid UTF-8). */
export function joinPath(parent: Buffer, name: Uint8Array): Buffer {
  if (parent.length === 0) return Buffer.from(name);
  if (parent[parent.length - 1] === SLASH) return Buffer.concat([parent, name]); // the target "/"
  return Buffer.concat([parent, Buffer.from([SLASH]), name]);
}

/** lstat, or undefined when nothing is there. */
export function lstatIfExists(path: Buffer): BigIntStats | undefined {
  // Not throwing for a missing entry matters: building the exception costs more than lstat.
  return lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

/** Removes whatever is at `path` without following links: unlink, or rm -r for a directory. */
export function removeEntry(path: Buffer, st: { isDirectory(): boolean }): void {
  if (st.isDirectory()) rmSync(path, { recursive: true, force: true });
  else unlinkSync(path);
}

/**
 * Makes `path` a real directory. Its parent must already be one (checked by the caller).
 * Something else in the way is removed when `replace` is set, else UNSAFE is thrown; a
 * symlink is never followed. Returns whether the directory was created.
 */
export function makeRealDir(path: Buffer, replace: boolean): boolean {
  try {
    mkdirSync(path, 0o700);
    return true; // mkdir made a directory: nothing to check
  } catch (err) {
    if (sysCode(err) !== "EEXIST") throw err;
  }
  const st = lstatSync(path);
  if (st.isDirectory()) return false;
  if (!replace) throw unsafe(path, st.isSymbolicLink() ? "is a symlink where the snapshot has a directory" : "is not a directory where the snapshot has one");
  removeEntry(path, st);
  mkdirSync(path, 0o700);
  return true;
}

/** Creates a new file (it must not exist) without following links; returns its fd. */
export function createFileNoFollow(path: Buffer): number {
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

/** Opens an existing file for writing without following a final symlink. */
export function openForWriteNoFollow(path: Buffer): number {
  return openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
}

/** Opens an existing file for reading without following a final symlink. */
export function openForReadNoFollow(path: Buffer): number {
  return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/**
 * Opens a directory without following a final symlink: ENOTDIR for anything else that is
 * there, ELOOP for a symlink, ENOENT for nothing, EACCES for one its owner may not read.
 */
export function openDirNoFollow(path: Buffer): number {
  return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

export function unsafe(path: Buffer, why: string): CofferError {
  return new CofferError("INVALID", `${path.toString()} ${why}; it was not restored.`, { path: path.toString(), unsafe: true });
}
