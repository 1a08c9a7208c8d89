/* The C allocator's limits (malloc-tune.c), registered by coffer_native.c. */
#ifndef COFFER_MALLOC_TUNE_H
#define COFFER_MALLOC_TUNE_H
#include <node_api.h>

napi_value tune_malloc(napi_env env, napi_callback_info info);
napi_value trim_malloc(napi_env env, napi_callback_info info);

#endif
