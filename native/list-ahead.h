/* Directory listings made ahead of a backup's walk by a background thread (list-ahead.c). */
#ifndef COFFER_LIST_AHEAD_H
#define COFFER_LIST_AHEAD_H
#include <node_api.h>

napi_value list_ahead_start(napi_env env, napi_callback_info info);
napi_value list_ahead_take(napi_env env, napi_callback_info info);
napi_value list_ahead_stop(napi_env env, napi_callback_info info);
napi_value list_ahead_status(napi_env env, napi_callback_info info);

#endif
