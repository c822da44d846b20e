/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_store.c: where the KV engine keeps its rows in its mount's view of the barrier ("config",
 * "meta/<path>", "ver/<path>/<N>"; version 1 keeps "<path>"), the striped
 * lock that serialises read-modify-write of one key, and atomic commits stamped with a watch index
 * (watch.h) that are announced after they are durable.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "api/engine.h"
#include "json.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"
#include "secmem.h"
#include "engines/watch.h"
#include "xmalloc.h"

#define KV_LOCK_STRIPES 64

static pthread_mutex_t kv_locks[KV_LOCK_STRIPES];
static pthread_once_t kv_locks_once = PTHREAD_ONCE_INIT;

struct kv_batch {
	struct barrier_op *ops;
	/* The values, wiped on free: JSON text from jansson (is_text) or malloc'd bytes of
	 * ops[i].len; NULL for deletes. */
	void **vals;
	bool *is_text;
	size_t n;
	size_t cap;
};

char *kv_store_meta_path(const char *p)
{
	char *path;

	xasprintf(&path, "meta/%s", p);
	return path;
}

char *kv_store_ver_path(const char *p, uint64_t v)
{
	char *path;

	xasprintf(&path, "ver/%s/%llu", p, (unsigned long long)v);
	return path;
}

int kv_store_load_object(const struct engine_ctx *ctx, const char *path, json_t **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *v;
	int err;

	*out = NULL;
	err = barrier_view_get(&ctx->store, path, &buf, &len);
	if (err != 0)
		return err;
	v = json_loadb((const char *)buf, len, 0, NULL);
	secmem_freezero(buf, len);
	if (!json_is_object(v)) {
		json_decref(v);
		return COFFER_ERR_INTEGRITY;
	}
	*out = v;
	return 0;
}

int kv_store_load_meta(const struct engine_ctx *ctx, const char *p, struct kv_meta *out)
{
	char *path = kv_store_meta_path(p);
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = barrier_view_get(&ctx->store, path, &buf, &len);
	if (err == 0) {
		err = kv_meta_decode(buf, len, out);
		secmem_freezero(buf, len);
	}
	free(path);
	return err;
}

int kv_store_load_config(const struct engine_ctx *ctx, struct kv_config *out)
{
	json_t *j = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = kv_store_load_object(ctx, "config", &j);
	if (err == 0)
		err = kv_config_from_json(j, out);
	else if (err == COFFER_ERR_NOT_FOUND)
		err = 0;
	json_decref(j);
	return err;
}

int kv_store_load_version_text(const struct engine_ctx *ctx, const char *p, uint64_t v,
                               uint8_t **out, size_t *out_len)
{
	char *path = kv_store_ver_path(p, v);
	int err;

	*out = NULL;
	err = barrier_view_get(&ctx->store, path, out, out_len);
	free(path);
	return err;
}

int kv_store_load_version(const struct engine_ctx *ctx, const char *p, uint64_t v, json_t **out)
{
	char *path = kv_store_ver_path(p, v);
	int err;

	*out = NULL;
	err = kv_store_load_object(ctx, path, out);
	free(path);
	return err;
}

int kv_store_list(const struct engine_ctx *ctx, const char *kind, const char *folder, json_t **keys)
{
	char *path = NULL, **names = NULL;
	size_t n = 0, i;
	json_t *arr = NULL;
	int err;

	*keys = NULL;
	xasprintf(&path, "%s%s", kind, folder);
	err = barrier_view_list(&ctx->store, path, &names, &n);
	if (err != 0)
		goto out;
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++) {
		/* A stored name that is not UTF-8 (a path may hold any byte above 0x7f) cannot be
		 * listed in JSON. */
		if (json_array_append_new(arr, json_string(names[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL) {
		err = COFFER_ERR_INTERNAL;
		goto out;
	}
	*keys = arr;
out:
	barrier_list_free(names, n);
	free(path);
	return err;
}

static void kv_locks_init(void)
{
	size_t i;

	for (i = 0; i < KV_LOCK_STRIPES; i++)
		pthread_mutex_init(&kv_locks[i], NULL);
}

/* FNV-1a over the mount's uuid and the key: writers to one key meet on one stripe. */
static pthread_mutex_t *kv_lock_for(const struct mount_entry *m, const char *p)
{
	uint64_t h = coffer_fnv1a_add_str(COFFER_FNV1A_INIT, m->uuid);

	h = coffer_fnv1a_add(h, "/", 1);
	h = coffer_fnv1a_add_str(h, p);
	return &kv_locks[h % KV_LOCK_STRIPES];
}

void kv_store_lock(const struct mount_entry *m, const char *p)
{
	pthread_once(&kv_locks_once, kv_locks_init);
	pthread_mutex_lock(kv_lock_for(m, p));
}

void kv_store_unlock(const struct mount_entry *m, const char *p)
{
	pthread_mutex_unlock(kv_lock_for(m, p));
}

struct kv_batch *kv_batch_new(void)
{
	return xcalloc(1, sizeof(struct kv_batch));
}

void kv_batch_free(struct kv_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free((char *)b->ops[i].path);
		if (b->is_text[i])
			coffer_json_free_text(b->vals[i]);
		else if (b->vals[i] != NULL)
			secmem_freezero(b->vals[i], b->ops[i].len);
	}
	free(b->ops);
	free(b->vals);
	free(b->is_text);
	free(b);
}

static void kv_batch_reserve(struct kv_batch *b)
{
	if (b->n < b->cap)
		return;
	b->cap = b->cap != 0 ? b->cap * 2 : 8;
	b->ops = xreallocarray(b->ops, b->cap, sizeof(*b->ops));
	b->vals = xreallocarray(b->vals, b->cap, sizeof(*b->vals));
	b->is_text = xreallocarray(b->is_text, b->cap, sizeof(*b->is_text));
}

static void kv_batch_put_as(struct kv_batch *b, enum barrier_op_type type, char *path, char *text)
{
	kv_batch_reserve(b);
	b->ops[b->n] = (struct barrier_op){type, path, (const uint8_t *)text, strlen(text)};
	b->vals[b->n] = text;
	b->is_text[b->n++] = true;
}

/* Queue a put of len malloc'd bytes (stolen, like path). */
static void kv_batch_put_bytes(struct kv_batch *b, char *path, uint8_t *buf, size_t len)
{
	kv_batch_reserve(b);
	b->ops[b->n] = (struct barrier_op){BARRIER_PUT, path, buf, len};
	b->vals[b->n] = buf;
	b->is_text[b->n++] = false;
}

void kv_batch_put_text(struct kv_batch *b, char *path, char *text)
{
	kv_batch_put_as(b, BARRIER_PUT, path, text);
}

void kv_batch_put_json(struct kv_batch *b, char *path, const json_t *v)
{
	kv_batch_put_text(b, path, coffer_json_dump(v));
}

static void kv_batch_delete_as(struct kv_batch *b, enum barrier_op_type type, char *path)
{
	kv_batch_reserve(b);
	b->ops[b->n] = (struct barrier_op){type, path, NULL, 0};
	b->vals[b->n] = NULL;
	b->is_text[b->n++] = false;
}

void kv_batch_delete(struct kv_batch *b, char *path)
{
	kv_batch_delete_as(b, BARRIER_DELETE, path);
}

int kv_batch_put_meta(struct kv_batch *b, const char *p, const struct kv_meta *meta)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	if ((err = kv_meta_encode(meta, &buf, &len)) != 0)
		return err;
	kv_batch_put_bytes(b, kv_store_meta_path(p), buf, len);
	return 0;
}

/* Version rows are unlisted (barrier.h): the metadata row lists them, and kv_purge() finds them
 * there on unmount. */
void kv_batch_put_version(struct kv_batch *b, const char *p, uint64_t v, char *text)
{
	kv_batch_put_as(b, BARRIER_PUT_UNLISTED, kv_store_ver_path(p, v), text);
}

void kv_batch_delete_version(struct kv_batch *b, const char *p, uint64_t v)
{
	kv_batch_delete_as(b, BARRIER_DELETE_UNLISTED, kv_store_ver_path(p, v));
}

int kv_batch_commit(const struct engine_ctx *ctx, struct kv_batch *b, const char *const *api_paths)
{
	uint8_t enc[8];
	uint64_t index = 0;
	int err;

	/* Without a watch (tests, or a build without watch.c wired) the change is just not
	 * announced. */
	if (ctx->watch != NULL) {
		/* The change index, outside the mount's view, in the same atomic batch. */
		struct barrier_op index_op = {BARRIER_PUT, WATCH_INDEX_PATH, enc, sizeof(enc)};

		index = watch_next_index(ctx->watch);
		watch_index_encode(index, enc);
		err = barrier_view_batch(&ctx->store, b->ops, b->n, &index_op);
	} else {
		err = barrier_view_batch(&ctx->store, b->ops, b->n, NULL);
	}
	if (ctx->watch == NULL)
		return err;
	if (err == 0 && api_paths != NULL)
		watch_notify(ctx->watch, api_paths, index);
	else
		watch_index_done(ctx->watch, index);
	return err;
}

#define KV_PURGE_BATCH 256 /* version rows deleted per commit on unmount */

/* Commit b's ops without a watch index (the mount is gone) and empty it. */
static int kv_purge_flush(const struct engine_ctx *ctx, struct kv_batch *b)
{
	int err = b->n > 0 ? barrier_view_batch(&ctx->store, b->ops, b->n, NULL) : 0;

	for (size_t i = 0; i < b->n; i++)
		free((char *)b->ops[i].path);
	b->n = 0;
	return err;
}

int kv_purge(const struct engine_ctx *ctx)
{
	struct kv_batch *b = kv_batch_new();
	static const char folder[] = "meta/";
	char **paths = NULL;
	size_t i, j, n = 0, folder_len = strlen(folder);
	int err;

	err = barrier_view_list_tree(&ctx->store, folder, &paths, &n);
	for (i = 0; err == 0 && i < n; i++) {
		struct kv_meta meta;
		const char *p = paths[i] + folder_len;

		err = kv_store_load_meta(ctx, p, &meta);
		for (j = 0; err == 0 && j < meta.n_versions; j++) {
			kv_batch_delete_version(b, p, meta.versions[j].version);
			if (b->n >= KV_PURGE_BATCH)
				err = kv_purge_flush(ctx, b);
		}
		kv_meta_clear(&meta);            /* zeroed by the load whatever happened */
		if (err == COFFER_ERR_NOT_FOUND) /* deleted meanwhile */
			err = 0;
	}
	if (err == 0)
		err = kv_purge_flush(ctx, b);
	barrier_list_free(paths, n);
	kv_batch_free(b);
	return err;
}
