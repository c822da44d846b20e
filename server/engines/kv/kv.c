/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv.c: the KV engine's route tables (kv_engine for version 2, generic_engine for version 1) and
 * the helpers its handlers share. mount.c picks the table per mount (kv.h); the router calls the
 * handlers in kv_v2.c, kv_versions.c, kv_meta.c and kv_v1.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/tables.h"
#include "engines/kv/kv_int.h"
#include "log.h"
#include "engines/mount.h"

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
	response_error(resp, 400, "missing secret path");
	return COFFER_ERR_INVALID;
}

int kv_api_paths(const struct request *req, const char *p, char **data, char **meta)
{
	*data = *meta = NULL;
	if (asprintf(data, "%sdata/%s", req->mount->path, p) < 0) {
		*data = NULL;
		return COFFER_ERR_NOMEM;
	}
	if (asprintf(meta, "%smetadata/%s", req->mount->path, p) < 0) {
		free(*data);
		*data = *meta = NULL;
		return COFFER_ERR_NOMEM;
	}
	return 0;
}

void kv_list_route(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                   const char *kind)
{
	const char *p = kv_secret_path(req);
	char *folder = NULL;
	json_t *keys = NULL;
	int err;

	if (asprintf(&folder, "%s%s", p, p[0] != '\0' ? "/" : "") < 0) {
		response_err(resp, COFFER_ERR_NOMEM);
		return;
	}
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

#define KV_M_READ REQ_M(REQ_GET)
#define KV_M_WRITE (REQ_M(REQ_POST) | REQ_M(REQ_PUT))

static const struct route kv_routes[] = {
    {"config", KV_M_READ | KV_M_WRITE, 0, kv_config_route, NULL},
    {"data", KV_M_READ | KV_M_WRITE | REQ_M(REQ_PATCH) | REQ_M(REQ_DELETE), ROUTE_PREFIX,
     kv_data_route, kv_data_exists},
    {"metadata", KV_M_READ | KV_M_WRITE | REQ_M(REQ_LIST) | REQ_M(REQ_PATCH) | REQ_M(REQ_DELETE),
     ROUTE_PREFIX, kv_metadata_route, kv_metadata_exists},
    {"subkeys", KV_M_READ, ROUTE_PREFIX, kv_subkeys_route, NULL},
    {"delete", KV_M_WRITE, ROUTE_PREFIX, kv_delete_route, NULL},
    {"undelete", KV_M_WRITE, ROUTE_PREFIX, kv_undelete_route, NULL},
    {"destroy", KV_M_WRITE, ROUTE_PREFIX, kv_destroy_route, NULL},
};
static const size_t kv_routes_len = sizeof(kv_routes) / sizeof(kv_routes[0]);

static const struct route kv_v1_routes[] = {
    {"", KV_M_READ | KV_M_WRITE | REQ_M(REQ_LIST) | REQ_M(REQ_DELETE), ROUTE_PREFIX, kv_v1_route,
     kv_v1_exists},
};
static const size_t kv_v1_routes_len = sizeof(kv_v1_routes) / sizeof(kv_v1_routes[0]);

/* A kv mount serves version 2 only when its options say so; "generic" and plain "kv" are
 * version 1, as in Vault. */
static const struct engine *kv_variant(const char *type, const json_t *options)
{
	const char *ver = json_string_value(json_object_get(options, "version"));

	if (strcmp(type, "generic") == 0 || ver == NULL || strcmp(ver, "2") != 0)
		return &generic_engine;
	return NULL;
}

/* On unmount mount.c deletes every listed row below the mount's prefix; version rows are unlisted,
 * so version 2 purges them first. */
const struct engine kv_engine = {
    .type = "kv",
    .alias = "generic",
    .routes = kv_routes,
    .n_routes = &kv_routes_len,
    .uses = ENGINE_USES_WATCH,
    .variant = kv_variant,
    .purge = kv_purge,
};
const struct engine generic_engine = {
    .type = "generic",
    .routes = kv_v1_routes,
    .n_routes = &kv_v1_routes_len,
    .uses = ENGINE_USES_WATCH,
};

size_t kv_max_value_size(const struct engine_ctx *ctx)
{
	/* Unit tests drive the handlers without settings. */
	return ctx->settings != NULL && ctx->settings->kv_max_value_size != 0
	           ? ctx->settings->kv_max_value_size
	           : KV_DEFAULT_MAX_VALUE_SIZE;
}
