/* A directory's entries with their lstat results as packed records (scan-records.c). */
#ifndef COFFER_SCAN_RECORDS_H
#define COFFER_SCAN_RECORDS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * One record per entry: 12 little-endian int64 (dev, ino, mode, nlink, uid, gid, rdev, size,
 * atime ns, mtime ns, ctime ns, errno of its lstat or 0), the name's length (uint32), the
 * name, zero bytes to the next multiple of 8. src/snapshot/entry-stat.ts reads this layout.
 */
#define SCAN_FIELDS 12
#define SCAN_NAME_LEN_AT (SCAN_FIELDS * 8)
#define SCAN_NAME_AT (SCAN_NAME_LEN_AT + 4)

/* A growing byte buffer (malloc'd). */
struct grow {
  char *p;
  size_t len, cap;
};

/*
 * Appends the records of the directory open as `dfd` ("." and ".." left out) to `g`, taking
 * ownership of dfd (it is closed). Returns 0, or an errno when the directory could not be
 * read to its end (g then holds what was read; the caller frees g->p either way).
 */
int scan_records(int dfd, struct grow *g);

/* Calls `fn(name, len, arg)` for each record of `g` that is a directory on `dev` lstat'ed without error. */
void each_subdir(const struct grow *g, dev_t dev, void (*fn)(const char *name, size_t len, void *arg), void *arg);

#endif
