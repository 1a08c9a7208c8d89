/*
 * scryptLanes(blocks: Buffer, N, r, p, threads) -> Promise<void>
 *
 * scrypt (RFC 7914) is PBKDF2-HMAC-SHA256, then ROMix over each of its p lanes, then
 * PBKDF2-HMAC-SHA256 again. The lanes are independent, but OpenSSL (and so Node's
 * crypto.scrypt) works through them one after another; this runs ROMix on up to `threads`
 * lanes at once, each on a thread of its own with its own 128 * r * N bytes. `blocks` is the
 * first PBKDF2's output, p * 128 * r bytes, and is replaced by ROMix's; the caller does both
 * PBKDF2 steps (src/crypto/kdf.ts), and the tests compare the whole with crypto.scrypt.
 * The Promise rejects when memory or a thread cannot be had; the buffer is then unusable.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "scrypt-lanes.h"

#define MAX_THREADS 8

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  uint8_t *blocks;
  uint64_t n;
  uint32_t r, p, threads;
  uint32_t next_lane; /* taken under `lock` */
  pthread_mutex_t lock;
  const char *error;  /* set under `lock` */
} job_t;

static uint32_t le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_le32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

#define ROTL(a, n) (((a) << (n)) | ((a) >> (32 - (n))))

/* Salsa20/8's core, on a 64-byte block held as 16 words (RFC 7914, section 3). */
static void salsa20_8(uint32_t b[16]) {
  uint32_t x[16];
  memcpy(x, b, sizeof x);
  for (int i = 0; i < 8; i += 2) {
    /* columns */
    x[4] ^= ROTL(x[0] + x[12], 7);   x[8] ^= ROTL(x[4] + x[0], 9);
    x[12] ^= ROTL(x[8] + x[4], 13);  x[0] ^= ROTL(x[12] + x[8], 18);
    x[9] ^= ROTL(x[5] + x[1], 7);    x[13] ^= ROTL(x[9] + x[5], 9);
    x[1] ^= ROTL(x[13] + x[9], 13);  x[5] ^= ROTL(x[1] + x[13], 18);
    x[14] ^= ROTL(x[10] + x[6], 7);  x[2] ^= ROTL(x[14] + x[10], 9);
    x[6] ^= ROTL(x[2] + x[14], 13);  x[10] ^= ROTL(x[6] + x[2], 18);
    x[3] ^= ROTL(x[15] + x[11], 7);  x[7] ^= ROTL(x[3] + x[15], 9);
    x[11] ^= ROTL(x[7] + x[3], 13);  x[15] ^= ROTL(x[11] + x[7], 18);
    /* rows */
    x[1] ^= ROTL(x[0] + x[3], 7);    x[2] ^= ROTL(x[1] + x[0], 9);
    x[3] ^= ROTL(x[2] + x[1], 13);   x[0] ^= ROTL(x[3] + x[2], 18);
    x[6] ^= ROTL(x[5] + x[4], 7);    x[7] ^= ROTL(x[6] + x[5], 9);
    x[4] ^= ROTL(x[7] + x[6], 13);   x[5] ^= ROTL(x[4] + x[7], 18);
    x[11] ^= ROTL(x[10] + x[9], 7);  x[8] ^= ROTL(x[11] + x[10], 9);
    x[9] ^= ROTL(x[8] + x[11], 13);  x[10] ^= ROTL(x[9] + x[8], 18);
    x[12] ^= ROTL(x[15] + x[14], 7); x[13] ^= ROTL(x[12] + x[15], 9);
    x[14] ^= ROTL(x[13] + x[12], 13); x[15] ^= ROTL(x[14] + x[13], 18);
  }
  for (int i = 0; i < 16; i++) b[i] += x[i];
}

/* BlockMix with Salsa20/8 on 2r blocks of 16 words: `in` to `out` (distinct). */
static void block_mix(const uint32_t *in, uint32_t *out, uint32_t r) {
  uint32_t x[16];
  memcpy(x, in + (2 * r - 1) * 16, sizeof x);
  for (uint32_t i = 0; i < 2 * r; i++) {
    for (int k = 0; k < 16; k++) x[k] ^= in[i * 16 + k];
    salsa20_8(x);
    /* Even blocks to the first half, odd ones to the second. */
    memcpy(out + ((i & 1) * r + i / 2) * 16, x, sizeof x);
  }
}

/* ROMix on one lane of 128 * r bytes, in place; v holds N * 32 * r words, x and y 32 * r. */
static void romix(uint8_t *lane, uint64_t n, uint32_t r, uint32_t *v, uint32_t *x, uint32_t *y) {
  const size_t words = 32 * (size_t)r;
  for (size_t k = 0; k < words; k++) x[k] = le32(lane + 4 * k);
  for (uint64_t i = 0; i < n; i++) {
    memcpy(v + i * words, x, words * 4);
    block_mix(x, y, r);
    memcpy(x, y, words * 4);
  }
  for (uint64_t i = 0; i < n; i++) {
    /* Integerify: the first 64 bits of the last block, modulo N (a power of two). */
    uint64_t j = ((uint64_t)x[words - 16] | (uint64_t)x[words - 15] << 32) & (n - 1);
    const uint32_t *vj = v + j * words;
    for (size_t k = 0; k < words; k++) x[k] ^= vj[k];
    block_mix(x, y, r);
    memcpy(x, y, words * 4);
  }
  for (size_t k = 0; k < words; k++) put_le32(lane + 4 * k, x[k]);
}

static void *lane_thread(void *arg) {
  job_t *job = arg;
  const size_t words = 32 * (size_t)job->r;
  uint32_t *v = malloc(job->n * words * 4);
  uint32_t *xy = malloc(2 * words * 4);
  if (v == NULL || xy == NULL) {
    pthread_mutex_lock(&job->lock);
    job->error = "scrypt: not enough memory for a lane";
    pthread_mutex_unlock(&job->lock);
  } else {
    for (;;) {
      pthread_mutex_lock(&job->lock);
      uint32_t lane = job->error == NULL && job->next_lane < job->p ? job->next_lane++ : job->p;
      pthread_mutex_unlock(&job->lock);
      if (lane >= job->p) break;
      romix(job->blocks + (size_t)lane * 128 * job->r, job->n, job->r, v, xy, xy + words);
    }
  }
  free(v);
  free(xy);
  return NULL;
}

/* On a thread of libuv's pool: the lanes, on `threads` threads (this one among them). */
static void execute(napi_env env, void *data) {
  job_t *job = data;
  pthread_t extra[MAX_THREADS];
  uint32_t started = 0;
  for (uint32_t t = 1; t < job->threads; t++) {
    if (pthread_create(&extra[started], NULL, lane_thread, job) != 0) break; /* fewer threads, same result */
    started++;
  }
  lane_thread(job);
  for (uint32_t t = 0; t < started; t++) pthread_join(extra[t], NULL);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  napi_value result;
  if (status == napi_ok && job->error == NULL) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, job->error ? job->error : "scrypt: the work was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_reference(env, job->buffer_ref);
  napi_delete_async_work(env, job->work);
  pthread_mutex_destroy(&job->lock);
  free(job);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

/* The work could not be queued: undoes what was made for it, throws, and returns NULL. */
static napi_value fail_start(napi_env env, job_t *job) {
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  if (job->buffer_ref != NULL) napi_delete_reference(env, job->buffer_ref);
  pthread_mutex_destroy(&job->lock);
  free(job);
  napi_throw_error(env, NULL, "scryptLanes: cannot start the work");
  return NULL;
}

napi_value scrypt_lanes(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return fail(env, "scryptLanes(blocks, N, r, p, threads)");
  void *data;
  size_t len;
  bool is_buf = false;
  napi_is_buffer(env, argv[0], &is_buf);
  if (!is_buf || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) return fail(env, "scryptLanes: blocks must be a Buffer");
  int64_t n;
  uint32_t r, p, threads;
  if (napi_get_value_int64(env, argv[1], &n) != napi_ok || napi_get_value_uint32(env, argv[2], &r) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &p) != napi_ok || napi_get_value_uint32(env, argv[4], &threads) != napi_ok) {
    return fail(env, "scryptLanes: N, r, p and threads must be numbers");
  }
  if (n < 2 || (n & (n - 1)) != 0 || n > ((int64_t)1 << 40)) return fail(env, "scryptLanes: N must be a power of two");
  if (r == 0 || r > 1024 || p == 0 || (uint64_t)len != (uint64_t)p * 128 * r) return fail(env, "scryptLanes: blocks must hold p * 128 * r bytes");
  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "scryptLanes: out of memory");
    return NULL;
  }
  job->blocks = data;
  job->n = (uint64_t)n;
  job->r = r;
  job->p = p;
  job->threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads > p ? p : threads;
  pthread_mutex_init(&job->lock, NULL);
  napi_value promise, name;
  if (napi_create_reference(env, argv[0], 1, &job->buffer_ref) != napi_ok || napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "coffer.scryptLanes", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok || napi_queue_async_work(env, job->work) != napi_ok) {
    return fail_start(env, job);
  }
  return promise;
}
