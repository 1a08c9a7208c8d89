// A small tmpfs for full-disk and read-only tests (root only: the tests skip otherwise).
import { spawnSync } from "node:child_process";

export const needsRoot: string | false = process.getuid?.() !== 0 ? "needs root to mount a tmpfs" : false;

export function mountTmpfs(dir: string, size: string): boolean {
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" }).status === 0;
}

export function remountReadOnly(dir: string): boolean {
  return spawnSync("mount", ["-o", "remount,ro", dir], { stdio: "ignore" }).status === 0;
}

export function umount(dir: string): void {
  spawnSync("umount", [dir], { stdio: "ignore" });
}

/** Fills the file system holding `dir`, then frees `leaveKiB` (room for lock and journal files, not for data). */
export function fillDisk(dir: string, leaveKiB = 16): void {
  spawnSync("sh", ["-c", `dd if=/dev/zero of='${dir}/.filler' bs=4k 2>/dev/null; truncate -s -${leaveKiB}K '${dir}/.filler'`]);
}
