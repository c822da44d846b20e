/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_int.h: private interface between the files of the KV engine (kv_routes.c route tables, kv.c
 * shared helpers, kv_v2.c data routes, kv_meta.c metadata/config routes, kv_versions.c, kv_v1.c,
 * kv_store.c storage through the mount's view, and the pure helpers in kv_util.c and kv_codec.c
 * that tests/unit/test_kv.c exercises).
 */
#ifndef COFFER_KV_INT_H
#define COFFER_KV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "duration.h"
#include "err.h"
#include "engines/kv/kv.h"

struct engine_ctx;
struct request;
struct response;
struct mount_entry;

/* The mount's config row (POST config). Zero means "not set" for every field. */
struct kv_config {
	int64_t max_versions;
	bool cas_required;
	int64_t delete_version_after_s;
};

/* One entry of a key's versions map. Times are Unix nanoseconds, 0 when unset. */
struct kv_version {
	uint64_t version;
	int64_t created_ns;
	int64_t deletion_ns;
	bool is_destroyed;
};

/* A key's metadata row. versions is ascending and holds every version not pruned yet. */
struct kv_meta {
	bool cas_required;
	int64_t max_versions;
	int64_t delete_version_after_s;
	int64_t created_ns;
	int64_t updated_ns;
	uint64_t current_version;
	uint64_t oldest_version; /* 0 until the first pruning, as Vault reports it */
	json_t *custom_metadata; /* an object of strings, or NULL */
	struct kv_version *versions;
	size_t n_versions;
	size_t cap_versions;
};

/* Result of a check-and-set decision. */
enum kv_cas_result { KV_CAS_OK, KV_CAS_REQUIRED, KV_CAS_MISMATCH };

#define KV_TIME_LEN COFFER_TIME_LEN

/* kv_util.c: pure helpers (no barrier, no watch). */
int64_t kv_now_ns(void);
/* RFC 3339 UTC with nanoseconds; "" when ns is 0. */
void kv_format_time(int64_t ns, char out[KV_TIME_LEN]);
/* RFC 7386 merge patch of target (NULL = absent) with patch: a new value, NULL when patch is NULL.
 */
json_t *kv_merge_patch(const json_t *target, const json_t *patch);
/* The keys of data with every leaf replaced by null, down to depth levels (0 = unlimited). */
json_t *kv_subkeys(const json_t *data, int64_t depth);
/* max(key, mount), KV_DEFAULT_MAX_VERSIONS when both are 0. */
uint64_t kv_effective_max_versions(int64_t key_max, int64_t mount_max);
/* The stricter (smaller) of the positive values; 0 (never) when neither is positive. */
int64_t kv_effective_delete_after(int64_t key_s, int64_t mount_s);
enum kv_cas_result kv_cas_decide(bool has_cas, uint64_t cas, bool is_cas_required,
                                 uint64_t current_version);
/* options.cas of a write body: 0 with *has_cas set or cleared, COFFER_ERR_INVALID if malformed. */
int kv_options_cas(const json_t *body, bool *has_cas, uint64_t *cas);
/* custom_metadata limits (kv.h); on COFFER_ERR_INVALID msg says what is wrong. */
int kv_custom_metadata_check(const json_t *cm, char *msg, size_t msg_cap);
/* A "versions" field: an array of integers or digit strings, a comma-separated string, or one
 * integer. *out is malloc'd. COFFER_ERR_NOT_FOUND when absent or empty, COFFER_ERR_INVALID. */
int kv_parse_versions(const json_t *v, uint64_t **out, size_t *n);
/* A non-negative decimal query value ("" and NULL are 0); COFFER_ERR_INVALID otherwise. */
int kv_parse_query_uint(const char *s, int64_t *out);

/* kv_codec.c: metadata and config rows, and their API forms. */
void kv_meta_init(struct kv_meta *m, int64_t now_ns);
void kv_meta_clear(struct kv_meta *m);
/* The stored (binary) form of a metadata row: *out malloc'd. decode gives COFFER_ERR_INTEGRITY for
 * anything malformed. */
int kv_meta_encode(const struct kv_meta *m, uint8_t **out, size_t *out_len);
int kv_meta_decode(const uint8_t *buf, size_t len, struct kv_meta *m);
struct kv_version *kv_meta_find(const struct kv_meta *m, uint64_t version);
/* Append version current+1 created at now_ns; the new entry. */
struct kv_version *kv_meta_add_version(struct kv_meta *m, int64_t now_ns, int64_t deletion_ns);
/* How many of the oldest entries must go to keep max_versions (Vault's rule). */
size_t kv_meta_prune_count(const struct kv_meta *m, uint64_t max_versions);
/* Remove the n oldest entries and advance oldest_version past them. */
void kv_meta_drop_oldest(struct kv_meta *m, size_t n);
bool kv_version_is_deleted(const struct kv_version *v, int64_t now_ns);
/* {created_time, custom_metadata, deletion_time, destroyed, version} */
json_t *kv_version_api_json(const struct kv_meta *m, const struct kv_version *v);
/* The same object as compact JSON text (malloc'd), for the read path. */
char *kv_version_api_text(const struct kv_meta *m, const struct kv_version *v);
/* GET metadata's data object. */
json_t *kv_meta_api_json(const struct kv_meta *m);
int kv_config_from_json(const json_t *j, struct kv_config *cfg);
json_t *kv_config_to_json(const struct kv_config *cfg);
json_t *kv_config_api_json(const struct kv_config *cfg);
/* max_versions, cas_required, delete_version_after of a config or metadata body; only the fields
 * present are written. On COFFER_ERR_INVALID msg names the field. */
int kv_parse_settings(const json_t *body, struct kv_config *out, bool *has_max, bool *has_cas,
                      bool *has_dva, char *msg, size_t msg_cap);

/* kv_store.c: barrier rows, the per-key write lock and atomic commits with a watch index. */
struct kv_batch;
/* The barrier paths of p's metadata row and of its version v (malloc'd). */
char *kv_store_meta_path(const char *p);
char *kv_store_ver_path(const char *p, uint64_t v);
int kv_store_load_meta(const struct engine_ctx *ctx, const char *p, struct kv_meta *out);
int kv_store_load_config(const struct engine_ctx *ctx, struct kv_config *out);
/* A JSON object row at path (absolute barrier path); COFFER_ERR_NOT_FOUND when absent. */
int kv_store_load_object(const struct engine_ctx *ctx, const char *path, json_t **out);
/* The largest JSON text of one version (the kv_max_value_size config key). */
size_t kv_max_value_size(const struct engine_ctx *ctx);

/* Plaintext bytes read from the barrier. */
struct kv_text {
	uint8_t *buf;
	size_t len;
};

/* The version's data as the JSON text it was stored as (plaintext: secmem_freezero it). */
int kv_store_load_version_text(const struct engine_ctx *ctx, const char *p, uint64_t v,
                               uint8_t **out, size_t *out_len);
int kv_store_load_version(const struct engine_ctx *ctx, const char *p, uint64_t v, json_t **out);
/* Folder listing below the mount's prefix + kind ("meta/" or ""), folder "" or '/'-terminated. */
int kv_store_list(const struct engine_ctx *ctx, const char *kind, const char *folder,
                  json_t **keys);
void kv_store_lock(const struct mount_entry *m, const char *p);
void kv_store_unlock(const struct mount_entry *m, const char *p);
struct kv_batch *kv_batch_new(void);
void kv_batch_free(struct kv_batch *b);
/* Queue a put (path is stolen, text is stolen and freed with coffer_json_free_text). */
void kv_batch_put_text(struct kv_batch *b, char *path, char *text);
void kv_batch_put_json(struct kv_batch *b, char *path, const json_t *v);
void kv_batch_delete(struct kv_batch *b, char *path);
/* The meta row of p and the data rows of pruned/destroyed versions are usual members. 0, or
 * kv_meta_encode()'s error. */
int kv_batch_put_meta(struct kv_batch *b, const char *p, const struct kv_meta *meta);
/* A version's data row (text is stolen), and its removal. */
void kv_batch_put_version(struct kv_batch *b, const char *p, uint64_t v, char *text);
void kv_batch_delete_version(struct kv_batch *b, const char *p, uint64_t v);
/* The engine's purge (unmount): delete every version row, found through the metadata rows; the
 * listed rows go with the mount's prefix afterwards. */
int kv_purge(const struct engine_ctx *ctx);
/* Stamp a watch index, commit atomically, then announce the API paths (NULL-terminated). */
int kv_batch_commit(const struct engine_ctx *ctx, struct kv_batch *b, const char *const *api_paths);

/* kv_v2.c, kv_meta.c, kv_v1.c: route handlers and existence checks. */
const char *kv_secret_path(const struct request *req);
int kv_require_path(const struct request *req, struct response *resp, const char **p);
/* "<mount>data/<p>" and "<mount>metadata/<p>" into malloc'd strings for watch_notify. */
void kv_api_paths(const struct request *req, const char *p, char **data, char **meta);
void kv_respond_err(struct response *resp, int err, const char *what);
/* LIST of the request's path as a folder below the mount's prefix + kind ("meta/" or ""): 404 when
 * it holds no keys. */
void kv_list_route(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                   const char *kind);
/* The metadata row of the request's path, for the existence checks: 1 with *meta loaded, 0 when the
 * path is "" or has no row, or a negative error. *meta is safe to kv_meta_clear() in every case. */
int kv_load_path_meta(const struct engine_ctx *ctx, const struct request *req,
                      struct kv_meta *meta);
void kv_data_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void kv_subkeys_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
int kv_data_exists(const struct engine_ctx *ctx, struct request *req);
void kv_metadata_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
int kv_metadata_exists(const struct engine_ctx *ctx, struct request *req);
void kv_config_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
/* DELETE data/:p: soft-delete the latest version. */
void kv_delete_latest(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void kv_delete_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void kv_undelete_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void kv_destroy_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
/* Prune meta to the effective max_versions, queuing deletes of the pruned data rows. */
void kv_prune_into(struct kv_batch *b, const char *p, struct kv_meta *meta,
                   const struct kv_config *cfg);
void kv_v1_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
int kv_v1_exists(const struct engine_ctx *ctx, struct request *req);

#endif
