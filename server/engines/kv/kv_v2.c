/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_v2.c: KV version 2 data routes (API.md "KV version 2"): read a version, write and patch a new
 * one under check-and-set with pruning, and subkeys. Writes to one key are serialised by
 * kv_store_lock(); each write is one atomic batch. Called through kv.c's route table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "json.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"
#include "secmem.h"
#include "xmalloc.h"

/* What one write or patch carries from parsing to commit. */
struct kv_write {
	const char *p;
	const json_t *data; /* the body's data object */
	bool has_cas;
	uint64_t cas;
	struct kv_config cfg;
	struct kv_meta meta;
	char *text; /* the new version, serialised */
};

void kv_prune_into(struct kv_batch *b, const char *p, struct kv_meta *meta,
                   const struct kv_config *cfg)
{
	uint64_t max = kv_effective_max_versions(meta->max_versions, cfg->max_versions);
	size_t n = kv_meta_prune_count(meta, max), i;

	/* Destroyed versions have no data row left; the rest are removed, not just marked. */
	for (i = 0; i < n; i++) {
		if (!meta->versions[i].is_destroyed)
			kv_batch_delete_version(b, p, meta->versions[i].version);
	}
	kv_meta_drop_oldest(meta, n);
}

/*
 * Load the meta row and the version asked for (?version=, 0 = latest) and its data: as JSON in
 * *data with the version's metadata in *md, or (text given) as stored text with the metadata as
 * text in *md_text. 0, or a response was made: plain 404 for a missing key or version, 404 with
 * the envelope {data_key: null, metadata} for a deleted or destroyed version.
 */
static int kv_read_version(const struct engine_ctx *ctx, const struct request *req,
                           struct response *resp, const char *p, const char *data_key,
                           struct kv_meta *meta, json_t **data, json_t **md, struct kv_text *text,
                           char **md_text)
{
	const struct kv_version *v;
	int64_t want = 0;
	int err;

	if (kv_parse_query_uint(req->query(req, "version"), &want) != 0) {
		response_invalid(resp, "version must be a non-negative integer");
		return COFFER_ERR_INVALID;
	}
	err = kv_store_load_meta(ctx, p, meta);
	if (err != 0) {
		kv_respond_err(resp, err, "metadata read");
		return err;
	}
	v = kv_meta_find(meta, want == 0 ? meta->current_version : (uint64_t)want);
	if (v == NULL) {
		response_not_found(resp);
		return COFFER_ERR_NOT_FOUND;
	}
	if (v->is_destroyed || kv_version_is_deleted(v, kv_now_ns())) {
		response_envelope(
		    resp, req,
		    json_pack("{s:n,s:o}", data_key, "metadata", kv_version_api_json(meta, v)),
		    NULL, NULL);
		resp->status = request_status_for(COFFER_ERR_NOT_FOUND);
		return COFFER_ERR_NOT_FOUND;
	}
	if (text != NULL) {
		err = kv_store_load_version_text(ctx, p, v->version, &text->buf, &text->len);
		if (err == 0)
			*md_text = kv_version_api_text(meta, v);
	} else {
		err = kv_store_load_version(ctx, p, v->version, data);
		if (err == 0)
			*md = kv_version_api_json(meta, v);
	}
	/* NOT_FOUND here means a destroy raced this unlocked read. */
	if (err != 0)
		kv_respond_err(resp, err, "version read");
	return err;
}

/* {"data":<stored text>,"metadata":<md>}: the secret's JSON is spliced in as stored (it was
 * written by kv_data_write as one JSON object and is authenticated by the barrier), so the hot
 * read neither parses nor re-serialises it. */
static char *kv_read_body(const struct kv_text *t, const char *mds)
{
	size_t mlen = strlen(mds);
	char *out = xmalloc(sizeof("{\"data\":,\"metadata\":}") + t->len + mlen);

	memcpy(out, "{\"data\":", 8);
	memcpy(out + 8, t->buf, t->len);
	memcpy(out + 8 + t->len, ",\"metadata\":", 12);
	memcpy(out + 20 + t->len, mds, mlen);
	memcpy(out + 20 + t->len + mlen, "}", 2);
	return out;
}

static void kv_data_read(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct kv_meta meta = {0};
	struct kv_text text = {NULL, 0};
	const char *p;
	char *md = NULL;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	if (kv_read_version(ctx, req, resp, p, "data", &meta, NULL, NULL, &text, &md) == 0) {
		response_envelope_text(resp, req, kv_read_body(&text, md));
		free(md);
	}
	if (text.buf != NULL)
		secmem_freezero(text.buf, text.len);
	kv_meta_clear(&meta);
}

void kv_subkeys_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct kv_meta meta = {0};
	json_t *data = NULL, *md = NULL, *sk;
	int64_t depth = 0;
	const char *p;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	if (kv_parse_query_uint(req->query(req, "depth"), &depth) != 0) {
		response_invalid(resp, "depth must be a non-negative integer");
		return;
	}
	if (kv_read_version(ctx, req, resp, p, "subkeys", &meta, &data, &md, NULL, NULL) == 0) {
		/* data is an object (kv_store_load_object()) and depth is not negative. */
		sk = kv_subkeys(data, depth);
		json_decref(data);
		response_envelope(resp, req, json_pack("{s:o,s:o}", "subkeys", sk, "metadata", md),
		                  NULL, NULL);
	}
	kv_meta_clear(&meta);
}

/* PATCH: the merge of the body's data into the latest version, serialised into w->text. */
static int kv_patch_text(const struct engine_ctx *ctx, struct response *resp, struct kv_write *w)
{
	const struct kv_version *v = kv_meta_find(&w->meta, w->meta.current_version);
	json_t *old = NULL, *merged;
	int err;

	if (v == NULL || v->is_destroyed || kv_version_is_deleted(v, kv_now_ns())) {
		response_not_found(resp);
		return COFFER_ERR_NOT_FOUND;
	}
	err = kv_store_load_version(ctx, w->p, v->version, &old);
	if (err != 0) {
		kv_respond_err(resp, err, "patch read");
		return err;
	}
	merged = kv_merge_patch(old, w->data);
	json_decref(old);
	w->text = coffer_json_dump(merged);
	json_decref(merged);
	return 0;
}

/* Under the key's lock: load config and metadata, decide check-and-set, build the text. */
static int kv_write_prepare(const struct engine_ctx *ctx, struct response *resp, struct kv_write *w,
                            bool is_patch)
{
	int err;

	err = kv_store_load_config(ctx, &w->cfg);
	if (err == 0)
		err = kv_store_load_meta(ctx, w->p, &w->meta);
	if (err == COFFER_ERR_NOT_FOUND && !is_patch) {
		kv_meta_init(&w->meta, 0); /* created_time is set with the first version */
		err = 0;
	}
	if (err != 0) {
		kv_respond_err(resp, err, "metadata read");
		return err;
	}
	switch (kv_cas_decide(w->has_cas, w->cas, w->meta.cas_required || w->cfg.cas_required,
	                      w->meta.current_version)) {
	case KV_CAS_REQUIRED:
		response_invalid(resp, "check-and-set parameter required for this call");
		return COFFER_ERR_CAS;
	case KV_CAS_MISMATCH:
		response_invalid(resp, "check-and-set parameter did not match the current version");
		return COFFER_ERR_CAS;
	case KV_CAS_OK:
		break;
	}
	if (is_patch)
		err = kv_patch_text(ctx, resp, w);
	else
		w->text = coffer_json_dump(w->data);
	if (err == 0 && strlen(w->text) > kv_max_value_size(ctx)) {
		response_fail(resp, COFFER_ERR_TOO_LARGE,
		              "value too large: at most %zu bytes of JSON per version",
		              kv_max_value_size(ctx));
		return COFFER_ERR_TOO_LARGE;
	}
	return err;
}

/* The new version's data row, the metadata row and the pruned rows in one batch. */
static int kv_write_commit(const struct engine_ctx *ctx, const struct request *req,
                           struct kv_write *w, uint64_t *version)
{
	int64_t now = kv_now_ns(), dva, deletion = 0;
	char *dpath = NULL, *mpath = NULL;
	struct kv_batch *b = kv_batch_new();
	const struct kv_version *v;
	int err;

	dva = kv_effective_delete_after(w->meta.delete_version_after_s,
	                                w->cfg.delete_version_after_s);
	if (dva > 0 && dva < (INT64_MAX - now) / 1000000000)
		deletion = now + dva * 1000000000;
	v = kv_meta_add_version(&w->meta, now, deletion);
	*version = v->version;
	kv_batch_put_version(b, w->p, v->version, w->text);
	w->text = NULL;
	kv_prune_into(b, w->p, &w->meta, &w->cfg);
	err = kv_batch_put_meta(b, w->p, &w->meta);
	if (err == 0) {
		kv_api_paths(req, w->p, &dpath, &mpath);
		err = kv_batch_commit(ctx, b, (const char *const[]){dpath, mpath, NULL});
	}
	free(mpath);
	free(dpath);
	kv_batch_free(b);
	return err;
}

static void kv_data_write(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                          bool is_patch)
{
	struct kv_write w = {0};
	uint64_t version = 0;
	int err;

	if (kv_require_path(req, resp, &w.p) != 0)
		return;
	w.data = json_object_get(req->body, "data");
	if (!json_is_object(w.data)) {
		response_invalid(resp, "no data provided");
		return;
	}
	if (kv_options_cas(req->body, &w.has_cas, &w.cas) != 0) {
		response_invalid(resp, "options.cas must be a non-negative integer");
		return;
	}
	kv_store_lock(req->mount, w.p);
	err = kv_write_prepare(ctx, resp, &w, is_patch);
	if (err == 0) {
		err = kv_write_commit(ctx, req, &w, &version);
		if (err != 0)
			kv_respond_err(resp, err, "version write");
	}
	kv_store_unlock(req->mount, w.p);
	if (err == 0)
		response_envelope(resp, req,
		                  kv_version_api_json(&w.meta, kv_meta_find(&w.meta, version)),
		                  NULL, NULL);
	if (w.text != NULL)
		coffer_json_free_text(w.text);
	kv_meta_clear(&w.meta);
}

void kv_data_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	switch (req->method) {
	case REQ_GET:
		kv_data_read(ctx, req, resp);
		break;
	case REQ_PATCH:
		kv_data_write(ctx, req, resp, true);
		break;
	case REQ_DELETE:
		kv_delete_latest(ctx, req, resp);
		break;
	default:
		kv_data_write(ctx, req, resp, false);
		break;
	}
}

int kv_data_exists(const struct engine_ctx *ctx, struct request *req)
{
	struct kv_meta meta;
	int err;

	err = kv_load_path_meta(ctx, req, &meta);
	if (err != 1)
		return err;
	err = meta.current_version > 0;
	kv_meta_clear(&meta);
	return err;
}
