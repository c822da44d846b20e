/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_meta.c: KV version 2 metadata and config routes (API.md "KV version 2"): LIST, GET, POST,
 * PATCH and DELETE metadata/:p, and GET/POST config. Lowering max_versions prunes at once.
 * Called through kv.c's route table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "json.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"

/* The fields of a POST or PATCH metadata body that were given. */
struct kv_meta_update {
	struct kv_config set;
	bool has_max, has_cas, has_dva;
	const json_t *custom_metadata; /* NULL when absent */
};

static void kv_metadata_read(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	struct kv_meta meta;
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	err = kv_store_load_meta(ctx, p, &meta);
	if (err != 0) {
		kv_respond_err(resp, err, "metadata read");
		return;
	}
	response_envelope(resp, req, kv_meta_api_json(&meta), NULL, NULL);
	kv_meta_clear(&meta);
}

static int kv_meta_update_parse(const struct request *req, struct response *resp,
                                struct kv_meta_update *u, bool is_patch)
{
	char msg[256];
	const json_t *cm;

	memset(u, 0, sizeof(*u));
	if (kv_parse_settings(req->body, &u->set, &u->has_max, &u->has_cas, &u->has_dva, msg,
	                      sizeof(msg)) != 0) {
		response_invalid(resp, "%s", msg);
		return COFFER_ERR_INVALID;
	}
	cm = json_object_get(req->body, "custom_metadata");
	if (cm == NULL || json_is_null(cm))
		return 0;
	/* A patch may hold nulls (deletions); the merged result is checked in kv_meta_update_apply.
	 */
	if (is_patch ? !json_is_object(cm) : kv_custom_metadata_check(cm, msg, sizeof(msg)) != 0) {
		response_invalid(resp, "%s",
		                 is_patch ? "custom_metadata must be an object of strings" : msg);
		return COFFER_ERR_INVALID;
	}
	u->custom_metadata = cm;
	return 0;
}

static int kv_meta_update_apply(struct kv_meta *meta, const struct kv_meta_update *u, bool is_patch,
                                struct response *resp)
{
	char msg[256];
	json_t *cm;

	if (u->has_max)
		meta->max_versions = u->set.max_versions;
	if (u->has_cas)
		meta->cas_required = u->set.cas_required;
	if (u->has_dva)
		meta->delete_version_after_s = u->set.delete_version_after_s;
	if (u->custom_metadata == NULL)
		return 0;
	cm = is_patch ? kv_merge_patch(meta->custom_metadata, u->custom_metadata)
	              : json_deep_copy(u->custom_metadata);
	if (kv_custom_metadata_check(cm, msg, sizeof(msg)) != 0) {
		json_decref(cm);
		response_invalid(resp, "%s", msg);
		return COFFER_ERR_INVALID;
	}
	json_decref(meta->custom_metadata);
	meta->custom_metadata = NULL;
	/* No custom metadata reads back as null, as in Vault. */
	if (json_object_size(cm) > 0)
		meta->custom_metadata = cm;
	else
		json_decref(cm);
	return 0;
}

/* Under the key's lock: load, apply, prune to the (new) effective max_versions, commit. */
static int kv_metadata_store(const struct engine_ctx *ctx, const struct request *req,
                             struct response *resp, const char *p, const struct kv_meta_update *u,
                             bool is_patch)
{
	struct kv_config cfg;
	struct kv_meta meta = {0};
	struct kv_batch *b = NULL;
	char *dpath = NULL, *mpath = NULL;
	int err;

	err = kv_store_load_config(ctx, &cfg);
	if (err == 0)
		err = kv_store_load_meta(ctx, p, &meta);
	if (err == COFFER_ERR_NOT_FOUND && !is_patch) {
		kv_meta_init(&meta, kv_now_ns());
		err = 0;
	}
	if (err != 0) {
		kv_respond_err(resp, err, "metadata read");
		goto out;
	}
	err = kv_meta_update_apply(&meta, u, is_patch, resp);
	if (err != 0)
		goto out;
	b = kv_batch_new();
	kv_prune_into(b, p, &meta, &cfg);
	err = kv_batch_put_meta(b, p, &meta);
	if (err == 0) {
		kv_api_paths(req, p, &dpath, &mpath);
		err = kv_batch_commit(ctx, b, (const char *const[]){dpath, mpath, NULL});
	}
	if (err != 0)
		kv_respond_err(resp, err, "metadata write");
out:
	free(mpath);
	free(dpath);
	kv_batch_free(b);
	kv_meta_clear(&meta);
	return err;
}

static void kv_metadata_write(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, bool is_patch)
{
	struct kv_meta_update u;
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0 ||
	    kv_meta_update_parse(req, resp, &u, is_patch) != 0)
		return;
	kv_store_lock(req->mount, p);
	err = kv_metadata_store(ctx, req, resp, p, &u, is_patch);
	kv_store_unlock(req->mount, p);
	if (err == 0)
		response_no_content(resp);
}

/* Every version's data row and the metadata row, in one batch. */
static int kv_metadata_purge(const struct engine_ctx *ctx, const struct request *req, const char *p)
{
	struct kv_meta meta = {0};
	struct kv_batch *b = NULL;
	char *dpath = NULL, *mpath = NULL;
	size_t i;
	int err;

	err = kv_store_load_meta(ctx, p, &meta);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	b = kv_batch_new();
	if (err == 0) {
		for (i = 0; i < meta.n_versions; i++) {
			if (!meta.versions[i].is_destroyed)
				kv_batch_delete_version(b, p, meta.versions[i].version);
		}
		kv_batch_delete(b, kv_store_meta_path(p));
		kv_api_paths(req, p, &dpath, &mpath);
		err = kv_batch_commit(ctx, b, (const char *const[]){dpath, mpath, NULL});
	}
	free(mpath);
	free(dpath);
	kv_batch_free(b);
	kv_meta_clear(&meta);
	return err;
}

static void kv_metadata_delete(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	kv_store_lock(req->mount, p);
	err = kv_metadata_purge(ctx, req, p);
	kv_store_unlock(req->mount, p);
	if (err != 0)
		kv_respond_err(resp, err, "metadata delete");
	else
		response_no_content(resp);
}

void kv_metadata_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->is_list) {
		kv_list_route(ctx, req, resp, "meta/");
		return;
	}
	switch (req->method) {
	case REQ_GET:
		kv_metadata_read(ctx, req, resp);
		break;
	case REQ_PATCH:
		kv_metadata_write(ctx, req, resp, true);
		break;
	case REQ_DELETE:
		kv_metadata_delete(ctx, req, resp);
		break;
	default:
		kv_metadata_write(ctx, req, resp, false);
		break;
	}
}

int kv_metadata_exists(const struct engine_ctx *ctx, struct request *req)
{
	struct kv_meta meta;
	int err;

	err = kv_load_path_meta(ctx, req, &meta);
	kv_meta_clear(&meta);
	return err;
}

/* POST config: only the fields given change. The config lock is the stripe of the path "". */
static int kv_config_store(const struct engine_ctx *ctx, const struct kv_config *set, bool has_max,
                           bool has_cas, bool has_dva)
{
	struct kv_config cfg;
	char *text;
	json_t *j;
	int err;

	err = kv_store_load_config(ctx, &cfg);
	if (err != 0)
		return err;
	if (has_max)
		cfg.max_versions = set->max_versions;
	if (has_cas)
		cfg.cas_required = set->cas_required;
	if (has_dva)
		cfg.delete_version_after_s = set->delete_version_after_s;
	j = kv_config_to_json(&cfg);
	text = coffer_json_dump(j);
	err = barrier_view_put(&ctx->store, "config", (const uint8_t *)text, strlen(text));
	coffer_json_free_text(text);
	json_decref(j);
	return err;
}

void kv_config_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct kv_config set = {0};
	bool has_max, has_cas, has_dva;
	char msg[256];
	int err;

	if (req->method == REQ_GET) {
		err = kv_store_load_config(ctx, &set);
		if (err != 0)
			kv_respond_err(resp, err, "config read");
		else
			response_envelope(resp, req, kv_config_api_json(&set), NULL, NULL);
		return;
	}
	if (kv_parse_settings(req->body, &set, &has_max, &has_cas, &has_dva, msg, sizeof(msg)) !=
	    0) {
		response_invalid(resp, "%s", msg);
		return;
	}
	kv_store_lock(req->mount, "");
	err = kv_config_store(ctx, &set, has_max, has_cas, has_dva);
	kv_store_unlock(req->mount, "");
	if (err != 0)
		kv_respond_err(resp, err, "config write");
	else
		response_no_content(resp);
}
