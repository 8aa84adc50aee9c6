// SHA-256 whose state can be saved: OpenSSL's SHA256_CTX (the OpenSSL that
// Node itself links, so it runs at node:crypto's speed, SHA-NI included)
// kept in a JS-owned Buffer. A copy of that Buffer is a checkpoint; writing
// it back resumes the hash. node:crypto cannot export its state, and the
// WebAssembly hashes that can run at a ninth of the speed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static SHA256_CTX *state_arg(napi_env env, napi_value value) {
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok || length != sizeof(SHA256_CTX)) {
    napi_throw_type_error(env, NULL, "sha256 state must be a Buffer of stateSize bytes");
    return NULL;
  }
  return (SHA256_CTX *)data;
}

// The bytes to hash: a Buffer (or any typed array Node hands as one); throws otherwise.
static int data_arg(napi_env env, napi_value value, void **data, size_t *length) {
  if (napi_get_buffer_info(env, value, data, length) == napi_ok) return 1;
  napi_throw_type_error(env, NULL, "data must be a Buffer");
  return 0;
}

static napi_value init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  SHA256_CTX *ctx = argc == 1 ? state_arg(env, argv[0]) : NULL;
  if (ctx) SHA256_Init(ctx);
  else if (argc != 1) napi_throw_type_error(env, NULL, "init(state)");
  return NULL;
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) {
    napi_throw_type_error(env, NULL, "update(state, data)");
    return NULL;
  }
  SHA256_CTX *ctx = state_arg(env, argv[0]);
  void *data;
  size_t length;
  if (!ctx || !data_arg(env, argv[1], &data, &length)) return NULL;
  SHA256_Update(ctx, data, length);
  return NULL;
}

// updateBoth(a, b, data): update(a, data); update(b, data), in one pass.
//
// Each layer byte of a file's content feeds two hashes (the layer digest and
// the content SHA-256 the LFS oid is checked against). With SHA-NI one stream
// is latency-bound: every SHA256RNDS2 waits for the one before it, so the
// execution units idle. Two independent streams interleaved in one loop fill
// those gaps (the idea of Linux's sha256_ni_asm finup2x, 2024). The content
// follows a 512-byte tar header, 8 whole blocks, so both contexts hold the
// same number of buffered bytes (`num`) and their block boundaries line up.
// Measured on a Sapphire Rapids Xeon: 0.79 CPU-s per GiB into both hashes,
// 1.06 for two OpenSSL updates; RNDS2's throughput then bounds the loop.

#if defined(__x86_64__)
static int have_sha_ni;

static void detect_sha_ni(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
  have_sha_ni = ssse3 && sse41 && ((b >> 29) & 1);
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define SHA_NI __attribute__((target("sha,sse4.1,ssse3")))

// SHA256RNDS2 wants the state as two registers, ABEF and CDGH (A in the top
// lane), not h[0..7]. The shuffles are those of Intel's "Intel SHA
// Extensions" paper (2013) and of Jeffrey Walton's public-domain
// sha256-x86.c, which most SHA-NI code derives from.
static inline SHA_NI void load_lanes(const SHA_LONG h[8], __m128i *abef, __m128i *cdgh) {
  __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
  __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  *abef = _mm_alignr_epi8(cdab, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

static inline SHA_NI void store_lanes(SHA_LONG h[8], __m128i abef, __m128i cdgh) {
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

// Four rounds on one stream; `m` is message words plus constants, `m_hi` its upper half.
#define ROUNDS4(abef, cdgh, m, m_hi) \
  do { \
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, (m)); \
    abef = _mm_sha256rnds2_epu32(abef, cdgh, (m_hi)); \
  } while (0)

// The next four schedule words from the last sixteen (w0 oldest .. w3 newest).
#define SCHEDULE(w0, w1, w2, w3) \
  _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)), _mm_alignr_epi8((w3), (w2), 4)), (w3))

// `blocks` 64-byte blocks of `data` into both h[8]; the callers keep Nl/Nh and the buffers.
static SHA_NI void compress_both(SHA_LONG ha[8], SHA_LONG hb[8], const unsigned char *data, size_t blocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i abef_a, cdgh_a, abef_b, cdgh_b;
  load_lanes(ha, &abef_a, &cdgh_a);
  load_lanes(hb, &abef_b, &cdgh_b);
  for (; blocks > 0; blocks--, data += 64) {
    __m128i save_abef_a = abef_a, save_cdgh_a = cdgh_a, save_abef_b = abef_b, save_cdgh_b = cdgh_b;
    __m128i w[4];
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
    // Both streams read the same words: one message schedule serves the two.
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
      if (j >= 4) w[j & 3] = SCHEDULE(w[j & 3], w[(j + 1) & 3], w[(j + 2) & 3], w[(j + 3) & 3]);
      __m128i m = _mm_add_epi32(w[j & 3], _mm_loadu_si128((const __m128i *)&K256[4 * j]));
      __m128i m_hi = _mm_shuffle_epi32(m, 0x0E);
      ROUNDS4(abef_a, cdgh_a, m, m_hi);
      ROUNDS4(abef_b, cdgh_b, m, m_hi);
    }
    abef_a = _mm_add_epi32(abef_a, save_abef_a);
    cdgh_a = _mm_add_epi32(cdgh_a, save_cdgh_a);
    abef_b = _mm_add_epi32(abef_b, save_abef_b);
    cdgh_b = _mm_add_epi32(cdgh_b, save_cdgh_b);
  }
  store_lanes(ha, abef_a, cdgh_a);
  store_lanes(hb, abef_b, cdgh_b);
}

// The bit counter as SHA256_Update keeps it (OpenSSL's md32_common.h): Nl
// wraps into Nh.
static void count_bits(SHA256_CTX *ctx, size_t length) {
  SHA_LONG low = ctx->Nl + (((SHA_LONG)length) << 3);
  if (low < ctx->Nl) ctx->Nh++;
  ctx->Nh += (SHA_LONG)(length >> 29);
  ctx->Nl = low;
}
#endif

static void update_both(SHA256_CTX *a, SHA256_CTX *b, const unsigned char *data, size_t length) {
#if defined(__x86_64__)
  if (have_sha_ni && a != b && a->num == b->num && length >= 64 + (a->num ? SHA256_CBLOCK - a->num : 0)) {
    // Each context completes its own buffered block, then both are at a block boundary.
    size_t head = a->num ? SHA256_CBLOCK - a->num : 0;
    SHA256_Update(a, data, head);
    SHA256_Update(b, data, head);
    size_t whole = (length - head) / SHA256_CBLOCK * SHA256_CBLOCK;
    compress_both(a->h, b->h, data + head, whole / SHA256_CBLOCK);
    count_bits(a, whole);
    count_bits(b, whole);
    SHA256_Update(a, data + head + whole, length - head - whole);
    SHA256_Update(b, data + head + whole, length - head - whole);
    return;
  }
#endif
  SHA256_Update(a, data, length);
  SHA256_Update(b, data, length);
}

static napi_value update_both_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "updateBoth(stateA, stateB, data)");
    return NULL;
  }
  SHA256_CTX *a = state_arg(env, argv[0]);
  if (!a) return NULL;
  SHA256_CTX *b = state_arg(env, argv[1]);
  if (!b) return NULL;
  void *data;
  size_t length;
  if (!data_arg(env, argv[2], &data, &length)) return NULL;
  update_both(a, b, data, length);
  return NULL;
}

// The digest of the bytes so far; the state itself is left as it was.
static napi_value digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  void *md;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  SHA256_CTX *ctx = argc == 1 ? state_arg(env, argv[0]) : NULL;
  if (!ctx) {
    if (argc != 1) napi_throw_type_error(env, NULL, "digest(state)");
    return NULL;
  }
  SHA256_CTX copy;
  memcpy(&copy, ctx, sizeof copy);
  if (napi_create_buffer(env, SHA256_DIGEST_LENGTH, &md, &out) != napi_ok) return NULL;
  SHA256_Final((unsigned char *)md, &copy);
  return out;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  napi_value size;
#if defined(__x86_64__)
  detect_sha_ni();
#endif
  export_function(env, exports, "init", init);
  export_function(env, exports, "update", update);
  export_function(env, exports, "updateBoth", update_both_fn);
  export_function(env, exports, "digest", digest);
  napi_create_uint32(env, sizeof(SHA256_CTX), &size);
  napi_set_named_property(env, exports, "stateSize", size);
  return exports;
}
