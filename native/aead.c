/*
 * gcmOpenPieces(key, sealed, scratch, sink) -> boolean (and gcmSealPieces, below)
 *
 * Opens an AES-256-GCM blob as coffer stores it (12-byte nonce, ciphertext, 16-byte tag):
 * the ciphertext is decrypted a piece of scratch.length bytes at a time into `scratch`, and
 * sink(n) is called after each piece with the number of bytes written there (the piece is
 * valid until the next call). The sink may be undefined when scratch holds the whole plaintext
 * (one piece, written in place: how small blobs are opened). Returns whether the tag
 * authenticated the whole. Node's
 * decipher.update returns a new buffer for every piece, which a check worker allocated by the
 * megabyte between collections; this allocates nothing per piece.
 *
 * OpenSSL is the one node itself is built with: its headers come with node's, and its symbols
 * are exported by the node binary the addon is loaded into.
 */
#include "aead.h"
#include <stdint.h>
#if defined(__has_include)
#if __has_include(<openssl/evp.h>)
#define COFFER_HAVE_OPENSSL 1
#endif
#endif

#ifdef COFFER_HAVE_OPENSSL
#include <openssl/evp.h>

#define NONCE 12
#define TAG 16

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

int gcm_available(void) { return 1; }

/* A context for AES-256-GCM under key and nonce (encrypt 1 or 0), or NULL with a JS exception pending. */
static EVP_CIPHER_CTX *start_gcm(napi_env env, int encrypt, const uint8_t *key, const uint8_t *nonce, const char *fails) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, encrypt) == 1) return ctx;
  EVP_CIPHER_CTX_free(ctx);
  napi_throw_error(env, NULL, fails);
  return NULL;
}

typedef int (*gcm_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);

/*
 * Runs `update` (EVP_EncryptUpdate or EVP_DecryptUpdate) over in[0, len) a piece of scratch_len
 * bytes at a time into scratch, calling sink(n) after each piece. Returns 0 with a JS exception
 * pending when OpenSSL fails or the sink throws; the caller then frees ctx and returns NULL.
 */
static int run_pieces(napi_env env, EVP_CIPHER_CTX *ctx, gcm_update update, const uint8_t *in, size_t len, uint8_t *scratch, size_t scratch_len, napi_value sink,
                      const char *fails) {
  if (len > 0 && scratch_len < len && sink == NULL) {
    napi_throw_type_error(env, NULL, "without a sink, scratch must hold the whole");
    return 0;
  }
  napi_value global;
  napi_get_global(env, &global);
  for (size_t o = 0; o < len;) {
    size_t n = len - o < scratch_len ? len - o : scratch_len;
    int out = 0;
    if (update(ctx, scratch, &out, in + o, (int)n) != 1) {
      napi_throw_error(env, NULL, fails);
      return 0;
    }
    o += n;
    if (sink == NULL) continue;
    napi_value count, ignored;
    napi_create_int32(env, out, &count);
    if (napi_call_function(env, global, sink, 1, &count, &ignored) != napi_ok) return 0; /* the sink threw: its exception propagates */
  }
  return 1;
}

napi_value gcm_open_pieces(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint8_t *key, *sealed, *scratch;
  size_t key_len, sealed_len, scratch_len;
  napi_valuetype sink_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || !bytes_of(env, argv[0], &key, &key_len) || key_len != 32 ||
      !bytes_of(env, argv[1], &sealed, &sealed_len) || sealed_len < NONCE + TAG || !bytes_of(env, argv[2], &scratch, &scratch_len) || scratch_len == 0 ||
      scratch_len > INT32_MAX || napi_typeof(env, argv[3], &sink_type) != napi_ok || (sink_type != napi_function && sink_type != napi_undefined)) {
    napi_throw_type_error(env, NULL, "gcmOpenPieces(key: 32 bytes, sealed: Uint8Array of at least 28 bytes, scratch: Uint8Array, sink: function or undefined)");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = start_gcm(env, 0, key, sealed, "gcmOpenPieces: OpenSSL could not start AES-256-GCM");
  if (ctx == NULL) return NULL;
  size_t end = sealed_len - TAG;
  if (!run_pieces(env, ctx, EVP_DecryptUpdate, sealed + NONCE, end - NONCE, scratch, scratch_len, sink_type == napi_function ? argv[3] : NULL, "gcmOpenPieces: OpenSSL failed to decrypt")) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  int out = 0;
  int ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, sealed + end) == 1 && EVP_DecryptFinal_ex(ctx, scratch, &out) == 1;
  EVP_CIPHER_CTX_free(ctx);
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

/*
 * gcmSealPieces(key, nonce, plain, scratch, sink, tag) -> undefined
 *
 * Seals `plain` with AES-256-GCM under `nonce` (12 bytes) a piece of scratch.length bytes at a
 * time: each piece of ciphertext goes into `scratch` and sink(n) is called with its length;
 * the 16-byte tag is written into `tag` at the end. The caller stores nonce, ciphertext and
 * tag in that order (the format of coffer's sealed bytes). Nothing is allocated per blob. As for
 * opening, the sink may be undefined when scratch holds the whole ciphertext.
 */
napi_value gcm_seal_pieces(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  uint8_t *key, *nonce, *plain, *scratch, *tag;
  size_t key_len, nonce_len, plain_len, scratch_len, tag_len;
  napi_valuetype sink_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || !bytes_of(env, argv[0], &key, &key_len) || key_len != 32 ||
      !bytes_of(env, argv[1], &nonce, &nonce_len) || nonce_len != NONCE || !bytes_of(env, argv[2], &plain, &plain_len) ||
      !bytes_of(env, argv[3], &scratch, &scratch_len) || scratch_len == 0 || scratch_len > INT32_MAX || napi_typeof(env, argv[4], &sink_type) != napi_ok ||
      (sink_type != napi_function && sink_type != napi_undefined) || !bytes_of(env, argv[5], &tag, &tag_len) || tag_len != TAG) {
    napi_throw_type_error(env, NULL, "gcmSealPieces(key: 32 bytes, nonce: 12 bytes, plain: Uint8Array, scratch: Uint8Array, sink: function or undefined, tag: 16 bytes)");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = start_gcm(env, 1, key, nonce, "gcmSealPieces: OpenSSL could not start AES-256-GCM");
  if (ctx == NULL) return NULL;
  if (!run_pieces(env, ctx, EVP_EncryptUpdate, plain, plain_len, scratch, scratch_len, sink_type == napi_function ? argv[4] : NULL, "gcmSealPieces: OpenSSL failed to encrypt")) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  int out = 0;
  int ok = EVP_EncryptFinal_ex(ctx, scratch, &out) == 1 && out == 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    napi_throw_error(env, NULL, "gcmSealPieces: OpenSSL failed to finish AES-256-GCM");
    return NULL;
  }
  return NULL;
}

#else
/* Node's headers without OpenSSL's: the addon builds without gcmOpenPieces (crypto/aead.ts uses Node's). */
int gcm_available(void) { return 0; }
napi_value gcm_open_pieces(napi_env env, napi_callback_info info) { return NULL; }
napi_value gcm_seal_pieces(napi_env env, napi_callback_info info) { return NULL; }
#endif
