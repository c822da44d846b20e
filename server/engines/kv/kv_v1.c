/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_v1.c: KV version 1 (API.md "KV version 1", and the "generic" engine): one unversioned JSON
 * object per path, stored at "<prefix><path>". Every write and delete is stamped with a watch
 * index and announced as "<mount><path>". Called through kv.c's generic route table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "json.h"
#include "engines/kv/kv_int.h"
#include "engines/mount.h"
#include "xmalloc.h"

static char *kv_v1_path(const char *p)
{
	return xstrdup(p);
}

static void kv_v1_read(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char *path;
	json_t *data = NULL;
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	path = kv_v1_path(p);
	err = kv_store_load_object(ctx, path, &data);
	free(path);
	if (err != 0)
		kv_respond_err(resp, err, "read");
	else
		response_envelope(resp, req, data, NULL, NULL);
}

/* Put (text non-NULL, stolen) or delete the row of p in one batch with the watch index. */
static int kv_v1_change(const struct engine_ctx *ctx, const struct request *req, const char *p,
                        char *text)
{
	struct kv_batch *b = kv_batch_new();
	char *api;
	int err;

	if (text != NULL)
		kv_batch_put_text(b, kv_v1_path(p), text);
	else
		kv_batch_delete(b, kv_v1_path(p));
	xasprintf(&api, "%s%s", req->mount->path, p);
	err = kv_batch_commit(ctx, b, (const char *const[]){api, NULL});
	free(api);
	kv_batch_free(b);
	return err;
}

static void kv_v1_write(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *p;
	char *text;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	if (json_object_size(req->body) == 0) {
		response_invalid(resp, "missing data fields");
		return;
	}
	text = coffer_json_dump(req->body);
	if (strlen(text) > kv_max_value_size(ctx)) {
		coffer_json_free_text(text);
		response_fail(resp, COFFER_ERR_TOO_LARGE,
		              "value too large: at most %zu bytes of JSON", kv_max_value_size(ctx));
		return;
	}
	err = kv_v1_change(ctx, req, p, text);
	if (err != 0)
		kv_respond_err(resp, err, "write");
	else
		response_no_content(resp);
}

static void kv_v1_delete(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *p;
	int err;

	if (kv_require_path(req, resp, &p) != 0)
		return;
	err = kv_v1_change(ctx, req, p, NULL);
	if (err != 0)
		kv_respond_err(resp, err, "delete");
	else
		response_no_content(resp);
}

void kv_v1_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->is_list) {
		kv_list_route(ctx, req, resp, "");
		return;
	}
	switch (req->method) {
	case REQ_GET:
		kv_v1_read(ctx, req, resp);
		break;
	case REQ_DELETE:
		kv_v1_delete(ctx, req, resp);
		break;
	default:
		kv_v1_write(ctx, req, resp);
		break;
	}
}

int kv_v1_exists(const struct engine_ctx *ctx, struct request *req)
{
	const char *p = kv_secret_path(req);
	char *path;
	json_t *data = NULL;
	int err;

	if (p[0] == '\0')
		return 0;
	path = kv_v1_path(p);
	err = kv_store_load_object(ctx, path, &data);
	free(path);
	json_decref(data);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	return err == 0 ? 1 : err;
}
