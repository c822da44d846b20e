/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kv_routes.c: the KV engine as the front end sees it: its route tables and engines (kv_engine for
 * version 2, generic_engine for version 1; the mount's options choose), registered in
 * front/registry.c. The handlers are in kv_v2.c, kv_versions.c, kv_meta.c and kv_v1.c.
 */
#include <string.h>

#include "api/tables.h"
#include "engines/kv/kv_int.h"

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
