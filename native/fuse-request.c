/*
 * What fuse-native 2.2.6 keeps of a request but does not pass on to
 * JavaScript, reached through the per-thread record it hands JavaScript
 * with every request (fuse_thread_locals_t, copied below):
 *
 * directWrites(locals, path): marks an open or create as direct I/O when the
 *   file is opened write-only, so the kernel hands the writer's bytes
 *   straight to the mount instead of first copying them into its page
 *   cache. fuse-native fills in only the handle of libfuse's
 *   fuse_file_info. Returns 1 (marked), 0 (not write-only: left alone) or
 *   -1 (not an open or create record for `path`: left alone).
 *
 * utimensMtime(locals, path): the mtime of a utimens request, in ms.
 *   fuse-native passes the atime twice (it packs l->atime into both
 *   argument pairs); the record holds the right one. Returns -1 for a
 *   record that is not a utimens of `path`.
 *
 * Nothing is read or written unless the record passes three checks: its
 * length is the struct's, its opcode is the one the call is for, and its
 * path is the one JavaScript was given. See fuse/request-record.ts.
 */
#define FUSE_USE_VERSION 29
#define _FILE_OFFSET_BITS 64
#include <fcntl.h>
#include <fuse.h>
#include <node_api.h>
#include <stdbool.h>
#include <string.h>
#include <sys/statvfs.h>
#include <uv.h>

/* fuse-native 2.2.6's opcodes. */
#define OP_UTIMENS 12
#define OP_OPEN 21
#define OP_CREATE 27

/* fuse-native 2.2.6's fuse_thread_locals_t, field for field. */
typedef struct {
  napi_ref self;
  uint32_t op;
  void *op_fn;
  const char *path;
  const char *dest;
  char *linkname;
  struct fuse_file_info *info;
  const void *buf;
  off_t offset;
  size_t len;
  mode_t mode;
  dev_t dev;
  uid_t uid;
  gid_t gid;
  size_t atime;
  size_t mtime;
  int32_t res;
  const char *name;
  const char *value;
  char *list;
  size_t size;
  uint32_t position;
  int flags;
  struct stat *stat;
  struct statvfs *statvfs;
  fuse_fill_dir_t readdir_filler;
  void *fuse;
  uv_sem_t sem;
  uv_async_t async;
} locals_t;

/* The record in argv[0] if it is one for argv[1] being answered as `op` or `also`; NULL otherwise (or thrown). */
static locals_t *record_for(napi_env env, napi_callback_info info, const char *usage, uint32_t op, uint32_t also) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  size_t length;
  char path[4096];
  size_t path_length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], path, sizeof path, &path_length) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  locals_t *l = data;
  if (length != sizeof(locals_t) || (l->op != op && l->op != also) || l->path == NULL || path_length >= sizeof path - 1 ||
      strcmp(l->path, path) != 0) {
    return NULL;
  }
  return l;
}

static napi_value number(napi_env env, double value) {
  napi_value result;
  return napi_create_double(env, value, &result) == napi_ok ? result : NULL;
}

/* -1 for a record that is not the one asked about; nothing (the TypeError) for bad arguments. */
static napi_value not_it(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending ? NULL : number(env, -1);
}

static napi_value direct_writes(napi_env env, napi_callback_info info) {
  locals_t *l = record_for(env, info, "directWrites(locals, path): a Buffer and a string", OP_OPEN, OP_CREATE);
  if (l == NULL || l->info == NULL) return not_it(env);
  if ((l->info->flags & O_ACCMODE) != O_WRONLY) return number(env, 0);
  l->info->direct_io = 1;
  return number(env, 1);
}

static napi_value utimens_mtime(napi_env env, napi_callback_info info) {
  locals_t *l = record_for(env, info, "utimensMtime(locals, path): a Buffer and a string", OP_UTIMENS, OP_UTIMENS);
  return l == NULL ? not_it(env) : number(env, (double)l->mtime);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "directWrites", NAPI_AUTO_LENGTH, direct_writes, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "directWrites", fn) != napi_ok ||
      napi_create_function(env, "utimensMtime", NAPI_AUTO_LENGTH, utimens_mtime, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "utimensMtime", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}
