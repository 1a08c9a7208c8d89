/*
 * tuneMalloc(arenaMax, mmapThreshold, trimThreshold) -> boolean
 *
 * glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core) and
 * raises its mmap threshold to the size of the largest block freed (up to 32 MiB), after
 * which blocks of a megabyte come from the arenas and, once freed, stay resident there. A
 * backup's threads allocate and free such blocks all the time (sealed blobs, read buffers),
 * so freed memory piled up in each thread's arena. Fixed thresholds send large blocks straight
 * to mmap (returned to the system when freed) and trim an arena's free top early; fewer arenas
 * share what is free. Returns false where the C library is not glibc (nothing is changed).
 *
 * trimMalloc() -> boolean
 *
 * Gives back the free pages inside every arena (malloc_trim), which free() leaves resident:
 * a worker that frees many small blocks (the pieces a blob is decrypted in) holds them until
 * then. Called after a garbage collection has freed a batch. True when pages were given back.
 */
#include "malloc-tune.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

napi_value tune_malloc(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t v[3] = {0, 0, 0};
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "tuneMalloc(arenaMax, mmapThreshold, trimThreshold)");
    return NULL;
  }
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_int32(env, argv[i], &v[i]) != napi_ok || v[i] <= 0) {
      napi_throw_type_error(env, NULL, "tuneMalloc: every argument must be a positive integer");
      return NULL;
    }
  }
  int ok = 0;
#ifdef __GLIBC__
  ok = mallopt(M_ARENA_MAX, v[0]) == 1 && mallopt(M_MMAP_THRESHOLD, v[1]) == 1 && mallopt(M_TRIM_THRESHOLD, v[2]) == 1;
#endif
  napi_get_boolean(env, ok, &out);
  return out;
}

napi_value trim_malloc(napi_env env, napi_callback_info info) {
  napi_value out;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_get_boolean(env, released, &out);
  return out;
}
