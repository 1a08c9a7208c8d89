/* scrypt's memory-hard step over its lanes on threads of their own (scrypt-lanes.c). */
#ifndef COFFER_SCRYPT_LANES_H
#define COFFER_SCRYPT_LANES_H
#include <node_api.h>

napi_value scrypt_lanes(napi_env env, napi_callback_info info);

#endif
