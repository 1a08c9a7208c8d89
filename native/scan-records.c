/* Packed directory listings with lstat results: what scandir returns and list-ahead keeps. */
#define _GNU_SOURCE
#include "scan-records.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int grow_to(struct grow *g, size_t more) {
  if (g->len + more <= g->cap) return 0;
  size_t cap = g->cap ? g->cap * 2 : 16384;
  while (cap < g->len + more) cap *= 2;
  char *p = realloc(g->p, cap);
  if (!p) return -1;
  g->p = p;
  g->cap = cap;
  return 0;
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000LL + (int64_t)t.tv_nsec; }

int scan_records(int dfd, struct grow *g) {
  DIR *d = fdopendir(dfd);
  if (!d) {
    int err = errno;
    close(dfd);
    return err;
  }
  int failed = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      failed = errno;
      break;
    }
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    size_t nl = strlen(n);
    size_t rec = (SCAN_NAME_AT + nl + 7) & ~(size_t)7;
    if (grow_to(g, rec) != 0) {
      failed = ENOMEM;
      break;
    }
    int64_t f[SCAN_FIELDS] = {0};
    struct stat st;
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      f[0] = (int64_t)st.st_dev;
      f[1] = (int64_t)st.st_ino;
      f[2] = (int64_t)st.st_mode;
      f[3] = (int64_t)st.st_nlink;
      f[4] = (int64_t)st.st_uid;
      f[5] = (int64_t)st.st_gid;
      f[6] = (int64_t)st.st_rdev;
      f[7] = (int64_t)st.st_size;
      f[8] = ns_of(st.st_atim);
      f[9] = ns_of(st.st_mtim);
      f[10] = ns_of(st.st_ctim);
    } else {
      f[11] = errno;
    }
    char *at = g->p + g->len;
    memcpy(at, f, sizeof f);
    uint32_t l32 = (uint32_t)nl;
    memcpy(at + SCAN_NAME_LEN_AT, &l32, 4);
    memcpy(at + SCAN_NAME_AT, n, nl);
    memset(at + SCAN_NAME_AT + nl, 0, rec - (SCAN_NAME_AT + nl));
    g->len += rec;
  }
  closedir(d);
  return failed;
}

void each_subdir(const struct grow *g, dev_t dev, void (*fn)(const char *name, size_t len, void *arg), void *arg) {
  for (size_t at = 0; at + SCAN_NAME_AT <= g->len;) {
    int64_t f[SCAN_FIELDS];
    memcpy(f, g->p + at, sizeof f);
    uint32_t nl;
    memcpy(&nl, g->p + at + SCAN_NAME_LEN_AT, 4);
    if (f[11] == 0 && S_ISDIR((mode_t)f[2]) && (dev_t)f[0] == dev) fn(g->p + at + SCAN_NAME_AT, nl, arg);
    at += (SCAN_NAME_AT + nl + 7) & ~(size_t)7;
  }
}
