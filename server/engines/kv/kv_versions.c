/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_versions.c: KV version 2 routes that change the state of existing versions (API.md "KV
 * version 2"): DELETE data/:p soft-deletes the latest, POST delete|undelete|destroy/:p the listed
 * ones. Destroy removes the data rows. Called through kv.c's route table; all answer 204.
 */
#include <stdlib.h>

#include "api/engine.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"

enum kv_version_op { KV_OP_DELETE, KV_OP_UNDELETE, KV_OP_DESTROY };

/* Apply op to one version, as Vault does: destroyed versions are final; deleting an already
 * deleted version keeps its first deletion time; undelete also cancels a scheduled deletion. */
static void kv_version_apply(struct kv_batch *b, const char *p, struct kv_version *v,
                             enum kv_version_op op, int64_t now, bool *is_changed)
{
	if (v->is_destroyed)
		return;
	switch (op) {
	case KV_OP_DELETE:
		if (kv_version_is_deleted(v, now))
			return;
		v->deletion_ns = now;
		break;
	case KV_OP_UNDELETE:
		if (v->deletion_ns == 0)
			return;
		v->deletion_ns = 0;
		break;
	case KV_OP_DESTROY:
		v->is_destroyed = true;
		kv_batch_delete_version(b, p, v->version);
		break;
	}
	*is_changed = true;
}

/* Apply op to the listed versions (list NULL: the latest) in one batch; a missing key or version
 * is not an error, as in Vault. */
static int kv_versions_change(const struct engine_ctx *ctx, const struct request *req,
                              const char *p, enum kv_version_op op, const uint64_t *list, size_t n)
{
	struct kv_meta meta = {0};
	struct kv_batch *b = NULL;
	struct kv_version *v;
	char *dpath = NULL, *mpath = NULL;
	bool is_changed = false;
	int64_t now = kv_now_ns();
	size_t i;
	int err;

	kv_store_lock(req->mount, p);
	err = kv_store_load_meta(ctx, p, &meta);
	if (err == COFFER_ERR_NOT_FOUND) {
		err = 0;
		goto out;
	}
	b = kv_batch_new();
	for (i = 0; err == 0 && i < n; i++) {
		v = kv_meta_find(&meta, list != NULL ? list[i] : meta.current_version);
		if (v != NULL)
			kv_version_apply(b, p, v, op, now, &is_changed);
	}
	if (err != 0 || !is_changed)
		goto out;
	err = kv_batch_put_meta(b, p, &meta);
	if (err == 0) {
		kv_api_paths(req, p, &dpath, &mpath);
		err = kv_batch_commit(ctx, b, (const char *const[]){dpath, mpath, NULL});
	}
out:
	kv_store_unlock(req->mount, p);
	free(mpath);
	free(dpath);
	kv_batch_free(b);
	kv_meta_clear(&meta);
	return err;
}

void kv_delete_latest(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	err = kv_versions_change(ctx, req, p, KV_OP_DELETE, NULL, 1);
	if (err != 0)
		kv_respond_err(resp, err, "delete");
	else
		response_no_content(resp);
}

static void kv_versions_route(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, enum kv_version_op op)
{
	uint64_t *list = NULL;
	size_t n = 0;
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	err = kv_parse_versions(json_object_get(req->body, "versions"), &list, &n);
	if (err == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "no version number provided");
		return;
	}
	if (err != 0) {
		response_invalid(resp, "versions must be a list of version numbers");
		return;
	}
	err = kv_versions_change(ctx, req, p, op, list, n);
	free(list);
	if (err != 0)
		kv_respond_err(resp, err, "version change");
	else
		response_no_content(resp);
}

void kv_delete_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	kv_versions_route(ctx, req, resp, KV_OP_DELETE);
}

void kv_undelete_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	kv_versions_route(ctx, req, resp, KV_OP_UNDELETE);
}

void kv_destroy_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	kv_versions_route(ctx, req, resp, KV_OP_DESTROY);
}
