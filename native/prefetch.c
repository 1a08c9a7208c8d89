/*
 * Directory metadata prefetch for a backup's walk.
 *
 *   prefetchTree(root: Buffer, threads: number, maxEntries: number) -> handle
 *       starts `threads` background threads that list every directory under `root` and lstat
 *       every entry, deepest-first in name order (the order of the walk), without leaving
 *       root's file system, until `maxEntries` entries are done. Nothing is returned: the
 *       point is that the kernel then holds the directories and inodes the walk is about to
 *       ask for. On a cold cache a walk waits for one disk read after another; these threads
 *       keep several in flight. Errors (unreadable directories, entries that vanish) are
 *       skipped: the walk meets and reports them itself.
 *   prefetchStatus(handle) -> { entries, dirs, done, warm, reads }   (warm: stopped early, see
 *       SAMPLE below; reads: block reads the listing caused)
 *   stopPrefetch(handle)   asks the threads to stop after the directory each is on; returns
 *       at once. The threads run at a lower priority (nice 10) so that, on a warm cache, they
 *       take little CPU from the work that matters.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include "prefetch.h"

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char **stack; /* directories to list; the top is listed next */
  size_t n, cap;
  int busy;     /* threads listing a directory now */
  int refs;     /* running threads + the JS handle */
  bool stop;
  dev_t dev;
  long budget;  /* entries left to lstat */
  long entries, dirs;
  long inblock; /* block reads the listing caused, summed over threads */
  bool warm;     /* stopped early: the first entries were already cached */
  int running;
} job_t;

/*
 * On a warm cache the walk finds everything cached anyway, and threads listing beside it only
 * compete with it for CPU and kernel locks (a second slower in a 12 s backup of the
 * benchmark). So the job judges by its first SAMPLE entries: if listing them made the kernel
 * read (almost) nothing from disk, the tree is cached and the job stops. Block reads are
 * counted per thread (getrusage, ru_inblock), which, unlike timings, does not depend on how
 * busy the CPU is. A file system without block reads (tmpfs, NFS) counts as cached.
 */
#define SAMPLE 2048
#define COLD_READS 8

static void job_unref(job_t *j) {
  /* Called with j->mu held; frees the job when nothing refers to it. */
  if (--j->refs > 0) {
    pthread_mutex_unlock(&j->mu);
    return;
  }
  for (size_t i = 0; i < j->n; i++) free(j->stack[i]);
  free(j->stack);
  pthread_mutex_unlock(&j->mu);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

static long inblock(void) {
  struct rusage u;
  return getrusage(RUSAGE_THREAD, &u) == 0 ? u.ru_inblock : 0;
}

static int by_name_desc(const void *a, const void *b) {
  return strcmp(*(char *const *)b, *(char *const *)a);
}

/* Lists one directory, lstats its entries; returns its subdirectories (same file system), malloc'd. */
static char **list_dir(job_t *j, const char *path, size_t *count, long *seen) {
  *count = 0;
  *seen = 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return NULL;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return NULL;
  }
  size_t plen = strlen(path), cap = 0;
  char **subs = NULL;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED)) break;
    struct stat st;
    (*seen)++;
    if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != j->dev) continue;
    if (*count == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(subs, cap * sizeof *subs);
      if (!grown) break;
      subs = grown;
    }
    size_t nlen = strlen(n);
    char *p = malloc(plen + 1 + nlen + 1);
    if (!p) break;
    memcpy(p, path, plen);
    size_t at = plen;
    if (!(plen == 1 && path[0] == '/')) p[at++] = '/';
    memcpy(p + at, n, nlen + 1);
    subs[(*count)++] = p;
  }
  closedir(d);
  return subs;
}

static void *run(void *arg) {
  job_t *j = arg;
#ifdef SYS_gettid
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
#endif
  pthread_mutex_lock(&j->mu);
  for (;;) {
    while (j->n == 0 && j->busy > 0 && !__atomic_load_n(&j->stop, __ATOMIC_RELAXED)) pthread_cond_wait(&j->cv, &j->mu);
    if (__atomic_load_n(&j->stop, __ATOMIC_RELAXED) || j->n == 0 || j->budget <= 0) break;
    char *path = j->stack[--j->n];
    j->busy++;
    pthread_mutex_unlock(&j->mu);
    size_t count;
    long seen;
    long reads = inblock();
    char **subs = list_dir(j, path, &count, &seen);
    reads = inblock() - reads;
    free(path);
    /* Pushed in reverse name order, so that the first by name is listed first, as the walk will. */
    if (count > 1) qsort(subs, count, sizeof *subs, by_name_desc);
    pthread_mutex_lock(&j->mu);
    j->busy--;
    j->dirs++;
    long before = j->entries;
    j->entries += seen;
    j->budget -= seen;
    j->inblock += reads;
    if (before < SAMPLE && j->entries >= SAMPLE && j->inblock < COLD_READS) {
      j->warm = true;
      __atomic_store_n(&j->stop, true, __ATOMIC_RELAXED);
    }
    size_t i = 0;
    if (j->n + count > j->cap) {
      size_t cap = (j->n + count) * 2;
      char **grown = realloc(j->stack, cap * sizeof *grown);
      if (grown) {
        j->stack = grown;
        j->cap = cap;
      }
    }
    for (; i < count && j->n < j->cap; i++) j->stack[j->n++] = subs[i];
    for (; i < count; i++) free(subs[i]);
    free(subs);
    pthread_cond_broadcast(&j->cv);
  }
  j->running--;
  pthread_cond_broadcast(&j->cv);
  job_unref(j);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  job_t *j = data;
  pthread_mutex_lock(&j->mu);
  __atomic_store_n(&j->stop, true, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&j->cv);
  job_unref(j);
}

napi_value prefetch_tree(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_buf = false;
  if (argc == 3) napi_is_buffer(env, argv[0], &is_buf);
  void *data;
  size_t len;
  int32_t threads;
  int64_t max;
  if (!is_buf || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len == 0 || memchr(data, 0, len) ||
      napi_get_value_int32(env, argv[1], &threads) != napi_ok || napi_get_value_int64(env, argv[2], &max) != napi_ok || threads < 1 || threads > 64) {
    napi_throw_type_error(env, NULL, "prefetchTree(root: Buffer, threads: 1..64, maxEntries: number)");
    return NULL;
  }
  char *root = malloc(len + 1);
  job_t *j = calloc(1, sizeof *j);
  struct stat st;
  if (!root || !j) {
    free(root);
    free(j);
    napi_throw_error(env, NULL, "coffer_native: out of memory");
    return NULL;
  }
  memcpy(root, data, len);
  root[len] = 0;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  j->refs = 1; /* the JS handle */
  j->budget = max;
  if (lstat(root, &st) == 0 && S_ISDIR(st.st_mode) && (j->stack = malloc(16 * sizeof *j->stack))) {
    j->cap = 16;
    j->dev = st.st_dev;
    j->stack[j->n++] = root;
    root = NULL;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < threads; i++) {
      pthread_t t;
      j->refs++;
      j->running++;
      if (pthread_create(&t, &attr, run, j) != 0) {
        j->refs--;
        j->running--;
        break;
      }
    }
    pthread_mutex_unlock(&j->mu);
    pthread_attr_destroy(&attr);
  }
  free(root);
  napi_value handle;
  if (napi_create_external(env, j, finalize, NULL, &handle) != napi_ok) {
    pthread_mutex_lock(&j->mu);
    __atomic_store_n(&j->stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&j->cv);
    job_unref(j);
    napi_throw_error(env, NULL, "coffer_native: N-API call failed");
    return NULL;
  }
  return handle;
}

static job_t *job_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  void *j = NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], &j) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a handle from prefetchTree");
    return NULL;
  }
  return j;
}

napi_value prefetch_status(napi_env env, napi_callback_info info) {
  job_t *j = job_arg(env, info);
  if (!j) return NULL;
  pthread_mutex_lock(&j->mu);
  long entries = j->entries, dirs = j->dirs;
  long reads = j->inblock;
  bool done = j->running == 0, warm = j->warm;
  pthread_mutex_unlock(&j->mu);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int64(env, entries, &v);
  napi_set_named_property(env, o, "entries", v);
  napi_create_int64(env, dirs, &v);
  napi_set_named_property(env, o, "dirs", v);
  napi_get_boolean(env, done, &v);
  napi_set_named_property(env, o, "done", v);
  napi_create_int64(env, reads, &v);
  napi_set_named_property(env, o, "reads", v);
  napi_get_boolean(env, warm, &v);
  napi_set_named_property(env, o, "warm", v);
  return o;
}

napi_value prefetch_stop(napi_env env, napi_callback_info info) {
  job_t *j = job_arg(env, info);
  if (!j) return NULL;
  pthread_mutex_lock(&j->mu);
  __atomic_store_n(&j->stop, true, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}
