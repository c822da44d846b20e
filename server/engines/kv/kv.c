/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv.c: what the KV engine's handlers share: the secret path of a request, its API paths (for
 * watch notifications), error answers, LIST, the metadata load and the value size limit. The
 * route tables are in kv_routes.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "engines/kv/kv_int.h"
#include "log.h"
#include "engines/mount.h"
#include "xmalloc.h"

const char *kv_secret_path(const struct request *req)
{
	const char *p = request_param(req, "*");

	return p != NULL ? p : "";
}

int kv_require_path(const struct request *req, struct response *resp, const char **p)
{
	*p = kv_secret_path(req);
	if ((*p)[0] != '\0')
		return 0;
	response_invalid(resp, "missing secret path");
	return COFFER_ERR_INVALID;
}

void kv_api_paths(const struct request *req, const char *p, char **data, char **meta)
{
	xasprintf(data, "%sdata/%s", req->mount->path, p);
	xasprintf(meta, "%smetadata/%s", req->mount->path, p);
}

void kv_list_route(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                   const char *kind)
{
	const char *p = kv_secret_path(req);
	char *folder;
	json_t *keys = NULL;
	int err;

	xasprintf(&folder, "%s%s", p, p[0] != '\0' ? "/" : "");
	err = kv_store_list(ctx, kind, folder, &keys);
	free(folder);
	if (err != 0)
		kv_respond_err(resp, err, "list");
	else if (json_array_size(keys) == 0)
		response_not_found(resp);
	else
		response_envelope(resp, req, json_pack("{s:O}", "keys", keys), NULL, NULL);
	json_decref(keys);
}

int kv_load_path_meta(const struct engine_ctx *ctx, const struct request *req, struct kv_meta *meta)
{
	const char *p = kv_secret_path(req);
	int err;

	if (p[0] == '\0') {
		memset(meta, 0, sizeof(*meta));
		return 0;
	}
	err = kv_store_load_meta(ctx, p, meta);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	return err == 0 ? 1 : err;
}

void kv_respond_err(struct response *resp, int err, const char *what)
{
	if (err == COFFER_ERR_NOT_FOUND) {
		response_not_found(resp);
		return;
	}
	/* Never the secret's path: names are secret too (DESIGN.md §10.1). */
	if (request_status_for(err) >= 500)
		log_error("kv %s failed: %s", what, coffer_strerror(err));
	response_err(resp, err);
}

size_t kv_max_value_size(const struct engine_ctx *ctx)
{
	/* Unit tests drive the handlers without settings. */
	return ctx->settings != NULL && ctx->settings->kv_max_value_size != 0
	           ? ctx->settings->kv_max_value_size
	           : KV_DEFAULT_MAX_VALUE_SIZE;
}
