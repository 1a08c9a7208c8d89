/* AES-256-GCM through the OpenSSL that node links (aead.c), registered by coffer_native.c. */
#ifndef COFFER_AEAD_H
#define COFFER_AEAD_H
#include <node_api.h>

/* 1 when built with OpenSSL's headers (gcmOpenPieces and gcmSealPieces are then registered). */
int gcm_available(void);
napi_value gcm_open_pieces(napi_env env, napi_callback_info info);
napi_value gcm_seal_pieces(napi_env env, napi_callback_info info);

#endif
