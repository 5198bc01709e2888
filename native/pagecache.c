/*
 * dropCache(fd): posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), which Node
 * does not offer. FileStore calls it on a shard file once its bytes are on
 * disk, so written shards do not pile up in the page cache (see
 * docs/STORES.md, "Shard files and the page cache"). Returns 0 or the errno.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <node_api.h>

static napi_value drop_cache(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double fd;
  napi_value result;
  /* Not NaN, not a fraction, not negative or huge: a bad value would otherwise become some other descriptor. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_double(env, argv[0], &fd) != napi_ok || !(fd >= 0 && fd <= 2147483647.0) || fd != floor(fd)) {
    napi_throw_type_error(env, NULL, "dropCache(fd): fd must be a file descriptor (a whole number >= 0)");
    return NULL;
  }
  if (napi_create_int32(env, posix_fadvise((int)fd, 0, 0, POSIX_FADV_DONTNEED), &result) != napi_ok) return NULL;
  return result;
}

/* Context-aware: the stripe workers load it too. */
NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "dropCache", NAPI_AUTO_LENGTH, drop_cache, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "dropCache", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}
