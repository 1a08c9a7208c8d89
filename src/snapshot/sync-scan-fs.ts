import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { type ListedEntry, parseListing } from "./entry-stat.js";
import { loadNative } from "./native.js";
import { takeListed } from "./list-ahead.js";
import type { ScanFs } from "./scanner.js";

let scandir: ((dir: Buffer) => Buffer) | undefined | null = null;

/**
 * The addon's listing of `dir` (made ahead by its list-ahead thread, or now), or undefined
 * without the addon (loaded on first use).
 */
function list(dir: Buffer): ListedEntry[] | undefined {
  if (scandir === null) scandir = loadNative()?.scandir ?? undefined;
  return scandir ? parseListing(takeListed(dir) ?? scandir(dir), dir) : undefined;
}

/**
 * The scanner's file system calls made synchronously. A directory listing and its lstats
 * take tens of microseconds of kernel time; through promises and the thread pool each call
 * costs several times that in overhead, which dominated an unchanged backup of 20k
 * directories. The walk blocks the event loop only for one directory at a time. With the
 * native addon, the listing and its lstats are one call that allocates no fs objects (whose
 * 18 bigints and 4 Dates per entry were a large part of the walk's garbage).
 */
export const syncScanFs: ScanFs = {
  readdir: async (dir) => readdirSync(dir, { encoding: "buffer" }),
  lstat: async (p) => lstatSync(p, { bigint: true }),
  readFile: async (p) => readFileSync(p),
  sync: {
    readdir: (dir) => readdirSync(dir, { encoding: "buffer" }),
    lstat: (p) => lstatSync(p, { bigint: true }),
    list,
  },
  async readHead(p, n) {
    const fd = openSync(p, "r");
    try {
      const b = Buffer.alloc(n);
      const got = readSync(fd, b, 0, n, 0);
      return b.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  },
};
