/*
 * coffer_native: the few system calls Node's fs does not offer with full fidelity.
 *
 *   utimensat(path, atimeNs: bigint | null, mtimeNs: bigint, nofollow: boolean)
 *       sets times to the nanosecond (fs.utimes takes doubles and loses sub-microsecond
 *       precision); atime null leaves it as it is; nofollow acts on a symlink itself.
 *   futimens(fd, atimeNs: bigint | null, mtimeNs: bigint)   the same on an open file.
 *   lchown(path, uid, gid)     owner of the entry itself, never of a symlink's target.
 *   mkfifo(path, mode)         named pipes (Node cannot make them).
 *   mknod(path, mode, dev)     device nodes (root only); mode includes the file type bits.
 *   scandir(path) -> Buffer    a directory's entries ("." and ".." left out) with the lstat of
 *       each, in one call: what a backup's walk needs, without fs's objects per entry (layout
 *       below and in src/snapshot/entry-stat.ts). An entry whose lstat fails carries its errno.
 *
 *   prefetchTree, prefetchStatus, stopPrefetch: see prefetch.c.
 *   listAhead, takeListed, stopListAhead, listAheadStatus: see list-ahead.c.
 *   tuneMalloc(arenaMax, mmapThreshold, trimThreshold), trimMalloc(): see malloc-tune.c.
 *   gcmOpenPieces(key, sealed, scratch, sink), gcmSealPieces(...): see aead.c.
 *   scryptLanes(blocks, N, r, p, threads): see scrypt-lanes.c.
 *   cdcCut(buf, gear, start, min, normal, lim, maskS, maskL): see cdc-cut.c.
 *
 * Paths are Buffers (raw bytes, any name a file system holds) or strings (UTF-8).
 * Failures throw an Error with `code` ("ENOENT", ...), `errno` and `syscall`, as fs does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "aead.h"
#include "malloc-tune.h"
#include "prefetch.h"
#include "list-ahead.h"
#include "scan-records.h"
#include "scrypt-lanes.h"
#include "cdc-cut.h"

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "coffer_native: N-API call failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

/* A NUL-terminated copy of a Buffer or string argument; NULL (with an exception) on error. */
static char *path_arg(napi_env env, napi_value v) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (is_buf) {
    void *data;
    size_t len;
    if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return NULL;
    if (memchr(data, 0, len) != NULL) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain NUL bytes");
      return NULL;
    }
    char *p = malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, data, len);
    p[len] = 0;
    return p;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a Buffer or a string");
    return NULL;
  }
  char *p = malloc(len + 1);
  if (!p) return NULL;
  napi_get_value_string_utf8(env, v, p, len + 1, &len);
  if (strlen(p) != len) {
    free(p);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "path must not contain NUL bytes");
    return NULL;
  }
  return p;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = uv_err_name(-err);
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s, %s '%.300s'", name, strerror(err), syscall, path);
  napi_value code, message, error, errnum, sc, pv;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &pv);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "syscall", sc);
  napi_set_named_property(env, error, "path", pv);
  napi_throw(env, error);
  return NULL;
}

static int ns_arg(napi_env env, napi_value v, struct timespec *ts) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    ts->tv_sec = 0;
    ts->tv_nsec = UTIME_OMIT;
    return 0;
  }
  int64_t ns;
  bool lossless;
  if (napi_get_value_bigint_int64(env, v, &ns, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "times must be bigint nanoseconds");
    return -1;
  }
  int64_t sec = ns / 1000000000LL;
  int64_t rem = ns % 1000000000LL;
  if (rem < 0) {
    rem += 1000000000LL;
    sec -= 1;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)rem;
  return 0;
}

static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "utimensat(path, atimeNs, mtimeNs, nofollow)");
    return NULL;
  }
  struct timespec ts[2];
  if (ns_arg(env, argv[1], &ts[0]) != 0 || ns_arg(env, argv[2], &ts[1]) != 0) return NULL;
  bool nofollow = false;
  if (argc > 3) napi_get_value_bool(env, argv[3], &nofollow);
  char *path = path_arg(env, argv[0]);
  if (!path) return NULL;
  int rc = utimensat(AT_FDCWD, path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
  if (rc != 0) {
    int err = errno;
    napi_value r = throw_errno(env, err, "utimensat", path);
    free(path);
    return r;
  }
  free(path);
  return NULL;
}

static napi_value js_futimens(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "futimens(fd, atimeNs, mtimeNs)");
    return NULL;
  }
  struct timespec ts[2];
  if (ns_arg(env, argv[1], &ts[0]) != 0 || ns_arg(env, argv[2], &ts[1]) != 0) return NULL;
  if (futimens(fd, ts) != 0) return throw_errno(env, errno, "futimens", "");
  return NULL;
}

static napi_value js_lchown(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t uid, gid;
  if (argc < 3 || napi_get_value_uint32(env, argv[1], &uid) != napi_ok || napi_get_value_uint32(env, argv[2], &gid) != napi_ok) {
    napi_throw_type_error(env, NULL, "lchown(path, uid, gid)");
    return NULL;
  }
  char *path = path_arg(env, argv[0]);
  if (!path) return NULL;
  if (lchown(path, (uid_t)uid, (gid_t)gid) != 0) {
    int err = errno;
    throw_errno(env, err, "lchown", path);
  }
  free(path);
  return NULL;
}

static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t mode;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &mode) != napi_ok) {
    napi_throw_type_error(env, NULL, "mkfifo(path, mode)");
    return NULL;
  }
  char *path = path_arg(env, argv[0]);
  if (!path) return NULL;
  if (mkfifo(path, (mode_t)mode) != 0) {
    int err = errno;
    throw_errno(env, err, "mkfifo", path);
  }
  free(path);
  return NULL;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t mode;
  uint64_t dev;
  bool lossless;
  if (argc < 3 || napi_get_value_uint32(env, argv[1], &mode) != napi_ok || napi_get_value_bigint_uint64(env, argv[2], &dev, &lossless) != napi_ok) {
    napi_throw_type_error(env, NULL, "mknod(path, mode, dev: bigint)");
    return NULL;
  }
  char *path = path_arg(env, argv[0]);
  if (!path) return NULL;
  if (mknod(path, (mode_t)mode, (dev_t)dev) != 0) {
    int err = errno;
    throw_errno(env, err, "mknod", path);
  }
  free(path);
  return NULL;
}


/* The listing's layout: scan-records.h. */
static napi_value js_scandir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "scandir(path)");
    return NULL;
  }
  char *path = path_arg(env, argv[0]);
  if (!path) return NULL;
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    napi_value r = throw_errno(env, errno, "scandir", path);
    free(path);
    return r;
  }
  struct grow g = {0};
  int failed = scan_records(dfd, &g);
  if (failed) {
    free(g.p);
    napi_value r = throw_errno(env, failed, "scandir", path);
    free(path);
    return r;
  }
  free(path);
  napi_value out;
  void *copy;
  napi_status s = napi_create_buffer_copy(env, g.len, g.len ? g.p : "", &copy, &out);
  free(g.p);
  if (s != napi_ok) {
    napi_throw_error(env, NULL, "coffer_native: cannot allocate the listing");
    return NULL;
  }
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"utimensat", NULL, js_utimensat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futimens", NULL, js_futimens, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lchown", NULL, js_lchown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, js_mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scandir", NULL, js_scandir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchTree", NULL, prefetch_tree, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchStatus", NULL, prefetch_status, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stopPrefetch", NULL, prefetch_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listAhead", NULL, list_ahead_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"takeListed", NULL, list_ahead_take, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stopListAhead", NULL, list_ahead_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listAheadStatus", NULL, list_ahead_status, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tuneMalloc", NULL, tune_malloc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimMalloc", NULL, trim_malloc, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scryptLanes", NULL, scrypt_lanes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cdcCut", NULL, cdc_cut, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmOpenPieces", NULL, gcm_open_pieces, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gcmSealPieces", NULL, gcm_seal_pieces, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  size_t count = sizeof props / sizeof props[0];
  /* The gcm functions are last: left out when built without OpenSSL's headers. */
  CHECK(napi_define_properties(env, exports, gcm_available() ? count : count - 2, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
