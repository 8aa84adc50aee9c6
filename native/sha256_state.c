// SHA-256 whose state can be saved: OpenSSL's SHA256_CTX (the OpenSSL that
// Node itself links, so it runs at node:crypto's speed, SHA-NI included)
// kept in a JS-owned Buffer. A copy of that Buffer is a checkpoint; writing
// it back resumes the hash. node:crypto cannot export its state, and the
// WebAssembly hashes that can run at a ninth of the speed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <string.h>

static SHA256_CTX *state_arg(napi_env env, napi_value value) {
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok || length != sizeof(SHA256_CTX)) {
    napi_throw_type_error(env, NULL, "sha256 state must be a Buffer of stateSize bytes");
    return NULL;
  }
  return (SHA256_CTX *)data;
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
  if (!ctx) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "data must be a Buffer");
    return NULL;
  }
  SHA256_Update(ctx, data, length);
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
  export_function(env, exports, "init", init);
  export_function(env, exports, "update", update);
  export_function(env, exports, "digest", digest);
  napi_create_uint32(env, sizeof(SHA256_CTX), &size);
  napi_set_named_property(env, exports, "stateSize", size);
  return exports;
}
