/* Directory metadata prefetch (prefetch.c), registered by coffer_native.c. */
#ifndef COFFER_PREFETCH_H
#define COFFER_PREFETCH_H
#include <node_api.h>

napi_value prefetch_tree(napi_env env, napi_callback_info info);
napi_value prefetch_status(napi_env env, napi_callback_info info);
napi_value prefetch_stop(napi_env env, napi_callback_info info);

#endif
