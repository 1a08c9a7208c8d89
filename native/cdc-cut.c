/*
 * cdcCut(buf, gear, start, min, normal, lim, maskS, maskL) -> number
 *
 * The hot loop of src/chunker/fastcdc.ts (findCut), which defines the procedure: hashing starts
 * with h = 0 at buf[start + min]; for each byte b, h = (h << 1) + gear[b] (32 bits); the chunk
 * ends just after the first byte whose hash has (h & mask) == 0, with maskS for bytes before
 * start + normal and maskL from there to start + lim. Returns the chunk's length, or -1 when
 * there is no cut in the range. `gear` is the 256 int32 of the repository's gear table.
 *
 * The same loop as the JavaScript one, at about three times its speed: the hash is a chain of
 * one shift and one add per byte, and C keeps it in a register without V8's bounds checks.
 */
#include <stdint.h>
#include <string.h>
#include "cdc-cut.h"

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* Hashes p[i .. stop) from hash *hp; the index just after the first byte whose hash has no bit of
 * `mask`, or -1 with the final hash in *hp. Eight bytes a step with one test for the eight,
 * then the step that holds the cut again byte by byte. */
static int64_t scan(const uint8_t *p, const uint32_t *gear, int64_t i, int64_t stop, uint32_t *hp, uint32_t mask) {
  uint32_t h = *hp;
  while (i + 8 <= stop) {
    const uint8_t *q = p + i;
    uint32_t h0 = (h << 1) + gear[q[0]];
    uint32_t h1 = (h0 << 1) + gear[q[1]];
    uint32_t h2 = (h1 << 1) + gear[q[2]];
    uint32_t h3 = (h2 << 1) + gear[q[3]];
    uint32_t h4 = (h3 << 1) + gear[q[4]];
    uint32_t h5 = (h4 << 1) + gear[q[5]];
    uint32_t h6 = (h5 << 1) + gear[q[6]];
    uint32_t h7 = (h6 << 1) + gear[q[7]];
    if (!(h0 & mask) | !(h1 & mask) | !(h2 & mask) | !(h3 & mask) | !(h4 & mask) | !(h5 & mask) | !(h6 & mask) | !(h7 & mask)) break;
    h = h7;
    i += 8;
  }
  for (; i < stop; i++) {
    h = (h << 1) + gear[p[i]];
    if ((h & mask) == 0) return i + 1;
  }
  *hp = h;
  return -1;
}

static int64_t find_cut(const uint8_t *p, const uint32_t *gear, int64_t s, int64_t min, int64_t normal, int64_t lim,
                        uint32_t mask_s, uint32_t mask_l) {
  uint32_t h = 0;
  int64_t at = scan(p, gear, s + min, s + normal, &h, mask_s);
  if (at < 0) at = scan(p, gear, s + normal, s + lim, &h, mask_l);
  return at < 0 ? -1 : at - s;
}

static int typed_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return -1;
  switch (type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: *len = length; break;
    case napi_int32_array: case napi_uint32_array: *len = length * 4; break;
    default: return -1;
  }
  return 0;
}

napi_value cdc_cut(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) {
    return throw_type(env, "cdcCut(buf, gear, start, min, normal, lim, maskS, maskL) takes eight arguments");
  }
  void *buf, *gear;
  size_t buf_len, gear_len;
  if (typed_bytes(env, argv[0], &buf, &buf_len) != 0) return throw_type(env, "cdcCut: buf must be a Uint8Array");
  if (typed_bytes(env, argv[1], &gear, &gear_len) != 0 || gear_len != 256 * 4) {
    return throw_type(env, "cdcCut: gear must be 256 int32 values");
  }
  int64_t n[4];
  uint32_t masks[2];
  for (int k = 0; k < 4; k++) {
    if (napi_get_value_int64(env, argv[2 + k], &n[k]) != napi_ok) return throw_type(env, "cdcCut: start, min, normal and lim must be numbers");
  }
  for (int k = 0; k < 2; k++) {
    if (napi_get_value_uint32(env, argv[6 + k], &masks[k]) != napi_ok) return throw_type(env, "cdcCut: the masks must be numbers");
  }
  const int64_t start = n[0], min = n[1], normal = n[2], lim = n[3];
  if (start < 0 || min < 0 || normal < min || lim < normal || (uint64_t)(start + lim) > buf_len) {
    napi_throw_range_error(env, NULL, "cdcCut: the range is not inside the buffer");
    return NULL;
  }
  uint32_t table[256];
  memcpy(table, gear, sizeof table); /* the typed array's bytes may not be 4-byte aligned */
  napi_value out;
  if (napi_create_int64(env, find_cut(buf, table, start, min, normal, lim, masks[0], masks[1]), &out) != napi_ok) return NULL;
  return out;
}
