/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_routes.c: the sys/auth and sys/mounts routes (API.md "sys"): list, enable, disable, read
 * and tune auth and secrets mounts over the tables of mount.c, and sys/internal/ui/mounts, which
 * the Vault CLI asks to find a path's mount. Registered by router.c through mount_sys_routes.
 */
#include <stdio.h>
#include <string.h>

#include "api/tables.h"
#include "json.h"
#include "engines/mount.h"
#include "identity/token.h"

/* The mount path of a sys/auth/<path> request into out ('/'-terminated), and whether it ends
 * with "/tune" (which is then cut off). COFFER_ERR_INVALID for an empty or bad path. */
static int mount_sys_path(const struct request *req, char *out, size_t cap, bool *is_tune)
{
	const char *first = request_param(req, "path"), *rest = request_param(req, "*");
	char joined[PATH_MAX_LEN + 1];
	size_t len;

	*is_tune = false;
	if (first == NULL)
		return COFFER_ERR_INVALID;
	if ((size_t)snprintf(joined, sizeof(joined), "%s%s%s", first,
	                     rest != NULL && rest[0] != '\0' ? "/" : "",
	                     rest != NULL ? rest : "") >= sizeof(joined))
		return COFFER_ERR_INVALID;
	len = strlen(joined);
	while (len > 0 && joined[len - 1] == '/')
		joined[--len] = '\0';
	if (len > 5 && strcmp(joined + len - 5, "/tune") == 0) {
		*is_tune = true;
		joined[len - 5] = '\0';
	}
	return mount_path_normalize(joined, out, cap);
}

/* The entry at exactly path (normalized), referenced; NULL when none. */
static struct mount_entry *mount_table_get(struct mount_table *t, const char *path)
{
	struct mount_entry *m = NULL;
	const char *rest;

	if (mount_table_find(t, path, &m, &rest) != 0)
		return NULL;
	if (strcmp(m->path, path) != 0) {
		mount_entry_release(m);
		return NULL;
	}
	return m;
}

static struct mount_table *mount_sys_table(const struct engine_ctx *ctx, bool is_auth)
{
	return is_auth ? ctx->auth_mounts : ctx->secret_mounts;
}

static void mount_sys_list(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                           bool is_auth)
{
	json_t *data = mount_table_json(mount_sys_table(ctx, is_auth));

	response_legacy(resp, req, data);
}

/* The TTLs of a config object (enable) or of the body (tune); absent ones stay untouched. */
static int mount_sys_ttls(const json_t *o, int64_t *default_s, bool *has_default, int64_t *max_s,
                          bool *has_max)
{
	int rc;

	rc = coffer_json_get_duration(o, "default_lease_ttl", default_s);
	if (rc == COFFER_ERR_INVALID)
		return rc;
	*has_default = rc == 0;
	rc = coffer_json_get_duration(o, "max_lease_ttl", max_s);
	if (rc == COFFER_ERR_INVALID)
		return rc;
	*has_max = rc == 0;
	return 0;
}

/* A secrets mount's options: kv's version as a string ("1" or "2"); generic is version 1. */
static int mount_sys_secret_options(const char *type, const json_t *in, json_t **out)
{
	json_t *v = json_object_get(in, "version");
	char ver[8] = "1";

	if (json_is_integer(v) && (json_integer_value(v) == 1 || json_integer_value(v) == 2))
		snprintf(ver, sizeof(ver), "%d", (int)json_integer_value(v));
	else if (json_is_string(v) &&
	         (strcmp(json_string_value(v), "1") == 0 || strcmp(json_string_value(v), "2") == 0))
		snprintf(ver, sizeof(ver), "%s", json_string_value(v));
	else if (v != NULL && !json_is_null(v) &&
	         !(json_is_string(v) && json_string_length(v) == 0))
		return COFFER_ERR_INVALID;
	*out = json_is_object(in) ? json_deep_copy(in) : json_object();
	json_object_set_new(*out, "version", json_string(strcmp(type, "generic") == 0 ? "1" : ver));
	return 0;
}

/* The arguments that enabling any mount takes: type, description and config's lease TTLs. 0, or
 * a 400 was answered. */
static int mount_sys_enable_args(const struct request *req, struct response *resp,
                                 const char **type, const char **desc, int64_t *dttl, int64_t *mttl)
{
	json_t *config = json_object_get(req->body, "config");
	bool has_d, has_m;

	if (coffer_json_get_string(req->body, "type", type) != 0 ||
	    coffer_json_get_string(req->body, "description", desc) == COFFER_ERR_INVALID) {
		response_invalid(resp, "type must be given as a string");
		return COFFER_ERR_INVALID;
	}
	if ((json_is_object(config) && mount_sys_ttls(config, dttl, &has_d, mttl, &has_m) != 0) ||
	    (config != NULL && !json_is_null(config) && !json_is_object(config))) {
		response_invalid(resp, "invalid config: lease TTLs must be durations");
		return COFFER_ERR_INVALID;
	}
	return 0;
}

/* The answer to mount_table_add(). */
static void mount_sys_enable_done(struct response *resp, int rc, const char *path)
{
	if (rc == COFFER_ERR_EXISTS)
		response_invalid(resp, "path is already in use at %s", path);
	else if (rc == COFFER_ERR_INVALID)
		response_invalid(resp, "cannot mount at %s: reserved path or invalid lease TTLs",
		                 path);
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
}

static void mount_sys_auth_enable(const struct engine_ctx *ctx, struct request *req,
                                  struct response *resp, const char *path)
{
	const char *type = NULL, *desc = NULL;
	json_t *options = json_object_get(req->body, "options");
	int64_t dttl = 0, mttl = 0;

	if (mount_sys_enable_args(req, resp, &type, &desc, &dttl, &mttl) != 0)
		return;
	if (options != NULL && !json_is_null(options) && !json_is_object(options)) {
		response_invalid(resp, "options must be an object");
		return;
	}
	if (strcmp(type, "token") == 0) {
		response_invalid(resp, "token credential backend cannot be instantiated");
		return;
	}
	if (!mount_table_is_mountable(ctx->auth_mounts, type)) {
		response_invalid(resp, "unsupported auth type: %.64s", type);
		return;
	}
	mount_sys_enable_done(resp,
	                      mount_table_add(ctx->auth_mounts, path, type, desc, dttl, mttl,
	                                      json_is_object(options) ? options : NULL),
	                      path);
}

static void mount_sys_secret_enable(const struct engine_ctx *ctx, struct request *req,
                                    struct response *resp, const char *path)
{
	const char *type = NULL, *desc = NULL;
	json_t *options = NULL;
	int64_t dttl = 0, mttl = 0;

	if (mount_sys_enable_args(req, resp, &type, &desc, &dttl, &mttl) != 0)
		return;
	if (!mount_table_is_mountable(ctx->secret_mounts, type)) {
		response_invalid(resp, "unsupported secrets engine type: %.64s", type);
		return;
	}
	if (mount_sys_secret_options(type, json_object_get(req->body, "options"), &options) != 0) {
		response_invalid(resp, "options.version must be \"1\" or \"2\"");
		return;
	}
	mount_sys_enable_done(
	    resp, mount_table_add(ctx->secret_mounts, path, type, desc, dttl, mttl, options), path);
	json_decref(options);
}

static void mount_sys_disable(const struct engine_ctx *ctx, struct response *resp, const char *path,
                              bool is_auth)
{
	int rc = mount_table_remove(mount_sys_table(ctx, is_auth), path);

	/* As Vault: disabling a path that has nothing mounted succeeds. */
	if (rc == 0 || rc == COFFER_ERR_NOT_FOUND)
		response_no_content(resp);
	else if (rc == COFFER_ERR_INVALID)
		response_invalid(resp, "cannot unmount %s", path);
	else
		response_err(resp, rc);
}

/* Tune reads show the effective TTLs: the system's where the mount sets none. */
static void mount_sys_tune_read(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp, const char *path, bool is_auth)
{
	struct mount_entry *m = mount_table_get(mount_sys_table(ctx, is_auth), path);
	json_t *data;

	if (m == NULL) {
		response_invalid(resp, "cannot fetch sysview for path \"%s\"", path);
		return;
	}
	data = json_pack(
	    "{s:s,s:I,s:I,s:b,s:o}", "description", m->description, "default_lease_ttl",
	    (json_int_t)(m->default_lease_ttl_s ? m->default_lease_ttl_s : TOKEN_SYSTEM_MAX_TTL_S),
	    "max_lease_ttl",
	    (json_int_t)(m->max_lease_ttl_s ? m->max_lease_ttl_s : TOKEN_SYSTEM_MAX_TTL_S),
	    "force_no_cache", 0, "options", json_deep_copy(m->options));
	mount_entry_release(m);
	response_legacy(resp, req, data);
}

static void mount_sys_tune_write(const struct engine_ctx *ctx, struct request *req,
                                 struct response *resp, const char *path, bool is_auth)
{
	const char *desc = NULL;
	int64_t dttl = 0, mttl = 0;
	bool has_d = false, has_m = false;
	int rc;

	if (mount_sys_ttls(req->body, &dttl, &has_d, &mttl, &has_m) != 0 ||
	    coffer_json_get_string(req->body, "description", &desc) == COFFER_ERR_INVALID) {
		response_invalid(resp, "lease TTLs must be durations, description a string");
		return;
	}
	rc = mount_table_tune(mount_sys_table(ctx, is_auth), path, desc, has_d ? &dttl : NULL,
	                      has_m ? &mttl : NULL);
	if (rc == COFFER_ERR_NOT_FOUND)
		response_invalid(resp, "no mount at %s", path);
	else if (rc == COFFER_ERR_INVALID)
		response_invalid(resp, "default_lease_ttl must not exceed max_lease_ttl");
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
}

static void mount_sys_read(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                           const char *path, bool is_auth)
{
	struct mount_entry *m = mount_table_get(mount_sys_table(ctx, is_auth), path);
	json_t *data;

	if (m == NULL) {
		response_invalid(resp, "no mount at %s", path);
		return;
	}
	data = mount_entry_json(m);
	mount_entry_release(m);
	response_envelope(resp, req, data, NULL, NULL);
}

/* sys/auth/<path>[/tune] and sys/mounts/<path>[/tune]: paths may have several segments, so
 * the routes are prefixes. */
static void mount_sys_path_route(const struct engine_ctx *ctx, struct request *req,
                                 struct response *resp, bool is_auth)
{
	char path[PATH_MAX_LEN + 2];
	bool is_tune, is_write = req->method == REQ_POST || req->method == REQ_PUT;

	if (mount_sys_path(req, path, sizeof(path), &is_tune) != 0) {
		response_invalid(resp, "invalid mount path");
		return;
	}
	if (is_tune && is_write)
		mount_sys_tune_write(ctx, req, resp, path, is_auth);
	else if (is_tune && req->method == REQ_GET && !req->is_list)
		mount_sys_tune_read(ctx, req, resp, path, is_auth);
	else if (!is_tune && is_write && is_auth)
		mount_sys_auth_enable(ctx, req, resp, path);
	else if (!is_tune && is_write)
		mount_sys_secret_enable(ctx, req, resp, path);
	else if (!is_tune && req->method == REQ_DELETE)
		mount_sys_disable(ctx, resp, path, is_auth);
	else if (!is_tune && req->method == REQ_GET && !req->is_list)
		mount_sys_read(ctx, req, resp, path, is_auth);
	else
		response_fail(resp, COFFER_ERR_METHOD, "unsupported operation");
}

static void mount_sys_auth_list(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	mount_sys_list(ctx, req, resp, true);
}

static void mount_sys_mounts_list(const struct engine_ctx *ctx, struct request *req,
                                  struct response *resp)
{
	mount_sys_list(ctx, req, resp, false);
}

static void mount_sys_auth_path(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	mount_sys_path_route(ctx, req, resp, true);
}

static void mount_sys_mounts_path(const struct engine_ctx *ctx, struct request *req,
                                  struct response *resp)
{
	mount_sys_path_route(ctx, req, resp, false);
}

/* sys/internal/ui/mounts/<path>: the mount that serves a path (the Vault CLI's kv helper). */
static void mount_sys_ui_mount(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	const char *p = request_param(req, "*"), *rest;
	struct mount_entry *m = NULL;
	json_t *data;

	if (p == NULL || mount_table_find(ctx->secret_mounts, p, &m, &rest) != 0) {
		response_fail(resp, COFFER_ERR_PERMISSION,
		              "preflight capability check returned 403, please ensure "
		              "client's policies grant access to the path");
		return;
	}
	data = mount_entry_json(m);
	json_object_set_new(data, "path", json_string(m->path));
	mount_entry_release(m);
	response_envelope(resp, req, data, NULL, NULL);
}

const struct route mount_sys_routes[] = {
    {"sys/auth", REQ_M(REQ_GET), 0, mount_sys_auth_list, NULL},
    {"sys/auth/:path", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_PREFIX | ROUTE_SUDO,
     mount_sys_auth_path, NULL},
    {"sys/mounts", REQ_M(REQ_GET), 0, mount_sys_mounts_list, NULL},
    {"sys/mounts/:path", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_PREFIX,
     mount_sys_mounts_path, NULL},
    {"sys/internal/ui/mounts", REQ_M(REQ_GET), ROUTE_PREFIX, mount_sys_ui_mount, NULL},
};
const size_t mount_sys_routes_len = sizeof(mount_sys_routes) / sizeof(mount_sys_routes[0]);
