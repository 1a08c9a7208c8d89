/*
 * Directory listings made ahead of a backup's walk, on a background thread.
 *
 *   listAhead(roots: Buffer[], maxBytes: number) -> handle
 *       starts one thread that lists each root's tree depth first, subdirectories in name
 *       order (the order of the walk), without leaving a root's file system, keeping each
 *       directory's listing in scandir's layout (scan-records.h) in a queue, in the order
 *       made. It runs at most maxBytes of listings ahead of what is taken, then waits.
 *   takeListed(handle, dir: Buffer) -> Buffer | undefined
 *       the listing of `dir` if the thread has made it, given out once; undefined if not
 *       (the walk then lists the directory itself). Listings queued before `dir` in the walk's
 *       order are ones the walk skipped (filtered out): they are dropped.
 *   stopListAhead(handle)   stops the thread after the directory it is on and frees what it
 *       holds; returns at once.
 *   listAheadStatus(handle) -> { listed, held, finished }   directories queued and their bytes,
 *       and whether the thread has ended (for tests).
 *
 * Why: an unchanged backup's walk is bound by its one thread, and a fifth of that thread's
 * time went to listing directories and lstat-ing entries, while the second core was half
 * idle. With this thread the walk only copies each listing.
 *
 * The walk's order: a directory before its entries, a subtree wholly before its next
 * sibling, siblings by the bytes of their names. Two paths compare in that order as their
 * bytes do with '/' counted lowest (dfs_cmp). The thread also keeps the last path taken: a
 * directory the walk has already passed is not kept, and a subtree it has left is not
 * listed at all, so a thread that falls behind catches up instead of working for nothing.
 */
#define _GNU_SOURCE
#include "list-ahead.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scan-records.h"

typedef struct item {
  struct item *next;
  char *path;
  size_t path_len;
  char *data;
  size_t len;
} item_t;

typedef struct {
  char *path;
  size_t len;
  dev_t dev;
} todo_t;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  item_t *head, *tail; /* listings made, in the walk's order */
  size_t held, max;    /* bytes of listings queued, and the bound */
  todo_t *stack;       /* directories to list; the top is next */
  size_t n, cap;
  char *cursor;        /* the last path taken (NULL before the first) */
  size_t cursor_len;
  bool stop;
  bool waiting;  /* the thread waits for room */
  bool finished; /* the thread has ended */
  int refs;      /* the thread while it runs + the JS handle */
} ahead_t;

/* Negative, zero or positive as path a comes before, is, or comes after b in the walk's order. */
static int dfs_cmp(const char *a, size_t al, const char *b, size_t bl) {
  size_t n = al < bl ? al : bl;
  for (size_t i = 0; i < n; i++) {
    unsigned ca = a[i] == '/' ? 0 : (unsigned char)a[i];
    unsigned cb = b[i] == '/' ? 0 : (unsigned char)b[i];
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Whether `inner` is `dir` or lies under it. */
static bool within(const char *inner, size_t il, const char *dir, size_t dl) {
  if (il < dl || memcmp(inner, dir, dl) != 0) return false;
  return il == dl || inner[dl] == '/' || (dl == 1 && dir[0] == '/');
}

static void free_items(item_t *it) {
  while (it) {
    item_t *next = it->next;
    free(it->path);
    free(it->data);
    free(it);
    it = next;
  }
}

/* Called with a->mu held; frees everything when nothing refers to it any more. */
static void ahead_unref(ahead_t *a) {
  if (--a->refs > 0) {
    pthread_mutex_unlock(&a->mu);
    return;
  }
  free_items(a->head);
  for (size_t i = 0; i < a->n; i++) free(a->stack[i].path);
  free(a->stack);
  free(a->cursor);
  pthread_mutex_unlock(&a->mu);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
  free(a);
}

typedef struct {
  const char *dir;
  size_t dir_len;
  todo_t *subs;
  size_t n, cap;
  dev_t dev;
  bool failed;
} subs_t;

static void add_sub(const char *name, size_t len, void *arg) {
  subs_t *s = arg;
  if (s->failed) return;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    todo_t *grown = realloc(s->subs, cap * sizeof *grown);
    if (!grown) {
      s->failed = true;
      return;
    }
    s->subs = grown;
    s->cap = cap;
  }
  bool root = s->dir_len == 1 && s->dir[0] == '/';
  size_t plen = s->dir_len + (root ? 0 : 1) + len;
  char *p = malloc(plen + 1);
  if (!p) {
    s->failed = true;
    return;
  }
  memcpy(p, s->dir, s->dir_len);
  size_t at = s->dir_len;
  if (!root) p[at++] = '/';
  memcpy(p + at, name, len);
  p[plen] = 0;
  s->subs[s->n++] = (todo_t){p, plen, s->dev};
}

static int by_path_desc(const void *x, const void *y) {
  const todo_t *a = x, *b = y;
  return dfs_cmp(b->path, b->len, a->path, a->len);
}

static void *run(void *arg) {
  ahead_t *a = arg;
  pthread_mutex_lock(&a->mu);
  for (;;) {
    if (!a->stop && a->n > 0 && a->held >= a->max) {
      /* Woken once half the bound is free again (takeListed), not for every listing taken:
       * a wake-up per directory cost the walk's thread more than the listing it saved. */
      a->waiting = true;
      while (!a->stop && a->held > a->max / 2) pthread_cond_wait(&a->cv, &a->mu);
      a->waiting = false;
    }
    if (a->stop || a->n == 0) break;
    todo_t t = a->stack[--a->n];
    /* Passed by the walk: a subtree it has left needs nothing; one it is inside needs listing
     * for the subdirectories, but the walk listed this directory itself. */
    bool passed = a->cursor && dfs_cmp(t.path, t.len, a->cursor, a->cursor_len) <= 0;
    bool inside = passed && within(a->cursor, a->cursor_len, t.path, t.len);
    pthread_mutex_unlock(&a->mu);
    if (passed && !inside) {
      free(t.path);
      pthread_mutex_lock(&a->mu);
      continue;
    }
    struct grow g = {0};
    int dfd = open(t.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = dfd < 0 ? errno : scan_records(dfd, &g);
    subs_t s = {t.path, t.len, NULL, 0, 0, t.dev, false};
    if (err == 0) each_subdir(&g, t.dev, add_sub, &s);
    if (s.n > 1) qsort(s.subs, s.n, sizeof *s.subs, by_path_desc);
    item_t *it = NULL;
    if (err == 0 && !passed && (it = malloc(sizeof *it)) != NULL) {
      /* scan_records grows its buffer by doubling from 16 KiB; most listings are far smaller. */
      char *fit = g.len > 0 ? realloc(g.p, g.len) : NULL;
      if (fit) g.p = fit;
      *it = (item_t){NULL, t.path, t.len, g.p, g.len};
      t.path = NULL;
      g.p = NULL;
    }
    free(t.path);
    free(g.p);
    pthread_mutex_lock(&a->mu);
    if (it) {
      if (a->tail) a->tail->next = it;
      else a->head = it;
      a->tail = it;
      a->held += it->len + it->path_len + sizeof *it;
    }
    /* A directory that failed is left to the walk, which reports it. */
    if (a->n + s.n > a->cap) {
      size_t cap = (a->n + s.n) * 2;
      todo_t *grown = realloc(a->stack, cap * sizeof *grown);
      if (grown) {
        a->stack = grown;
        a->cap = cap;
      }
    }
    size_t i = 0;
    for (; i < s.n && a->n < a->cap; i++) a->stack[a->n++] = s.subs[i];
    for (; i < s.n; i++) free(s.subs[i].path);
    free(s.subs);
  }
  if (a->stop) {
    /* Stopped: nothing more will be taken. */
    free_items(a->head);
    a->head = a->tail = NULL;
    a->held = 0;
  }
  a->finished = true;
  ahead_unref(a);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  ahead_t *a = data;
  pthread_mutex_lock(&a->mu);
  a->stop = true;
  pthread_cond_broadcast(&a->cv);
  ahead_unref(a);
}

napi_value list_ahead_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_array = false;
  uint32_t count = 0;
  int64_t max = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok || napi_get_value_int64(env, argv[1], &max) != napi_ok || max < 1) {
    napi_throw_type_error(env, NULL, "listAhead(roots: Buffer[], maxBytes: number)");
    return NULL;
  }
  ahead_t *a = calloc(1, sizeof *a);
  if (!a || !(a->stack = calloc(count ? count : 1, sizeof *a->stack))) {
    free(a);
    napi_throw_error(env, NULL, "coffer_native: out of memory");
    return NULL;
  }
  a->cap = count ? count : 1;
  a->max = (size_t)max;
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->cv, NULL);
  a->refs = 1; /* the JS handle */
  /* Pushed last first, so that the first root is listed first. */
  for (uint32_t k = count; k-- > 0;) {
    napi_value v;
    bool is_buf = false;
    void *data;
    size_t len;
    if (napi_get_element(env, argv[0], k, &v) != napi_ok || napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf ||
        napi_get_buffer_info(env, v, &data, &len) != napi_ok || len == 0 || memchr(data, 0, len))
      continue;
    char *p = malloc(len + 1);
    if (!p) continue;
    memcpy(p, data, len);
    p[len] = 0;
    struct stat st;
    if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
      free(p);
      continue;
    }
    a->stack[a->n++] = (todo_t){p, len, st.st_dev};
  }
  if (a->n > 0) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    a->refs++;
    if (pthread_create(&t, &attr, run, a) != 0) {
      a->refs--;
      a->finished = true;
    }
    pthread_attr_destroy(&attr);
  } else {
    a->finished = true;
  }
  napi_value handle;
  if (napi_create_external(env, a, finalize, NULL, &handle) != napi_ok) {
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    ahead_unref(a);
    napi_throw_error(env, NULL, "coffer_native: N-API call failed");
    return NULL;
  }
  return handle;
}

static ahead_t *ahead_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  void *a = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &a) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a handle from listAhead");
    return NULL;
  }
  return a;
}

/* The handle a call was given first, or NULL with an exception pending. */
static ahead_t *ahead_of_call(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "expected a handle from listAhead");
    return NULL;
  }
  return ahead_arg(env, argv[0]);
}

napi_value list_ahead_take(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  ahead_t *a = argc < 2 ? NULL : ahead_arg(env, argv[0]);
  bool is_buf = false;
  void *dir;
  size_t dir_len;
  if (!a || napi_is_buffer(env, argv[1], &is_buf) != napi_ok || !is_buf || napi_get_buffer_info(env, argv[1], &dir, &dir_len) != napi_ok) {
    if (a) napi_throw_type_error(env, NULL, "takeListed(handle, dir: Buffer)");
    return NULL;
  }
  item_t *found = NULL, *dropped = NULL, **drop_end = &dropped;
  char *cursor = malloc(dir_len ? dir_len : 1);
  pthread_mutex_lock(&a->mu);
  while (a->head && dfs_cmp(a->head->path, a->head->path_len, dir, dir_len) < 0) {
    item_t *it = a->head;
    a->head = it->next;
    a->held -= it->len + it->path_len + sizeof *it;
    it->next = NULL;
    *drop_end = it;
    drop_end = &it->next;
  }
  if (a->head && dfs_cmp(a->head->path, a->head->path_len, dir, dir_len) == 0) {
    found = a->head;
    a->head = found->next;
    a->held -= found->len + found->path_len + sizeof *found;
  }
  if (!a->head) a->tail = NULL;
  char *old_cursor = a->cursor;
  if (cursor) {
    memcpy(cursor, dir, dir_len);
    a->cursor = cursor;
    a->cursor_len = dir_len;
  } else {
    old_cursor = NULL;
  }
  bool wake = a->waiting && a->held <= a->max / 2;
  pthread_mutex_unlock(&a->mu);
  if (wake) pthread_cond_signal(&a->cv);
  free(old_cursor);
  free_items(dropped);
  napi_value out;
  if (!found) {
    napi_get_undefined(env, &out);
    return out;
  }
  void *copy;
  napi_status s = napi_create_buffer_copy(env, found->len, found->len ? found->data : "", &copy, &out);
  found->next = NULL;
  free_items(found);
  if (s != napi_ok) {
    napi_throw_error(env, NULL, "coffer_native: cannot allocate the listing");
    return NULL;
  }
  return out;
}

napi_value list_ahead_stop(napi_env env, napi_callback_info info) {
  ahead_t *a = ahead_of_call(env, info);
  if (!a) return NULL;
  pthread_mutex_lock(&a->mu);
  a->stop = true;
  item_t *held = a->head;
  a->head = a->tail = NULL;
  a->held = 0;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  free_items(held);
  return NULL;
}

napi_value list_ahead_status(napi_env env, napi_callback_info info) {
  ahead_t *a = ahead_of_call(env, info);
  if (!a) return NULL;
  pthread_mutex_lock(&a->mu);
  int64_t listed = 0;
  for (item_t *it = a->head; it; it = it->next) listed++;
  int64_t held = (int64_t)a->held;
  bool finished = a->finished;
  pthread_mutex_unlock(&a->mu);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int64(env, listed, &v);
  napi_set_named_property(env, o, "listed", v);
  napi_create_int64(env, held, &v);
  napi_set_named_property(env, o, "held", v);
  napi_get_boolean(env, finished, &v);
  napi_set_named_property(env, o, "finished", v);
  return o;
}
