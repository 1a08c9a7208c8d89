/* FastCDC's cut search in C (cdc-cut.c); src/chunker/fastcdc.ts holds the definition. */
#ifndef COFFER_CDC_CUT_H
#define COFFER_CDC_CUT_H
#include <node_api.h>

napi_value cdc_cut(napi_env env, napi_callback_info info);

#endif
