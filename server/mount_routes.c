/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount_routes.c: the sys/auth routes (API.md "sys"): list, enable, disable, read and tune auth
 * mounts, over the auth table of mount.c. Registered by router.c through mount_sys_routes.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "json.h"
#include "mount.h"
#include "token.h"

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

static void mount_sys_auth_list(struct core *c, struct request *req, struct response *resp)
{
	json_t *data = mount_table_json(c->auth_mounts);

	if (data == NULL) {
		response_err(resp, COFFER_ERR_NOMEM);
		return;
	}
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

static void mount_sys_auth_enable(struct core *c, struct request *req, struct response *resp,
                                  const char *path)
{
	const char *type = NULL, *desc = NULL;
	json_t *config, *options = json_object_get(req->body, "options");
	int64_t dttl = 0, mttl = 0;
	bool has_d, has_m;
	int rc;

	if (coffer_json_get_string(req->body, "type", &type) != 0 ||
	    coffer_json_get_string(req->body, "description", &desc) == COFFER_ERR_INVALID) {
		response_error(resp, 400, "type must be given as a string");
		return;
	}
	config = json_object_get(req->body, "config");
	if ((json_is_object(config) && mount_sys_ttls(config, &dttl, &has_d, &mttl, &has_m) != 0) ||
	    (config != NULL && !json_is_null(config) && !json_is_object(config))) {
		response_error(resp, 400, "invalid config: lease TTLs must be durations");
		return;
	}
	if (options != NULL && !json_is_null(options) && !json_is_object(options)) {
		response_error(resp, 400, "options must be an object");
		return;
	}
	if (strcmp(type, "token") == 0) {
		response_error(resp, 400, "token credential backend cannot be instantiated");
		return;
	}
	if (!engine_is_mountable(type, true)) {
		response_error(resp, 400, "unsupported auth type: %.64s", type);
		return;
	}
	rc = mount_table_add(c->auth_mounts, path, type, desc, dttl, mttl,
	                     json_is_object(options) ? options : NULL);
	if (rc == COFFER_ERR_EXISTS)
		response_error(resp, 400, "path is already in use at %s", path);
	else if (rc == COFFER_ERR_INVALID)
		response_error(resp, 400, "cannot mount %s: reserved path or invalid lease TTLs",
		               path);
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
}

static void mount_sys_auth_disable(struct core *c, struct response *resp, const char *path)
{
	int rc = mount_table_remove(c->auth_mounts, path);

	/* As Vault: disabling a path that has nothing mounted succeeds. */
	if (rc == 0 || rc == COFFER_ERR_NOT_FOUND)
		response_no_content(resp);
	else if (rc == COFFER_ERR_INVALID)
		response_error(resp, 400, "token credential backend cannot be disabled");
	else
		response_err(resp, rc);
}

/* Tune reads show the effective TTLs: the system's where the mount sets none. */
static void mount_sys_tune_read(struct core *c, struct request *req, struct response *resp,
                                const char *path)
{
	struct mount_entry *m = mount_table_get(c->auth_mounts, path);
	json_t *data;

	if (m == NULL) {
		response_error(resp, 400, "cannot fetch sysview for path \"%s\"", path);
		return;
	}
	data = json_pack(
	    "{s:s,s:I,s:I,s:b,s:o}", "description", m->description, "default_lease_ttl",
	    (json_int_t)(m->default_lease_ttl_s ? m->default_lease_ttl_s : TOKEN_SYSTEM_MAX_TTL_S),
	    "max_lease_ttl",
	    (json_int_t)(m->max_lease_ttl_s ? m->max_lease_ttl_s : TOKEN_SYSTEM_MAX_TTL_S),
	    "force_no_cache", 0, "options", json_deep_copy(m->options));
	mount_entry_release(m);
	if (data == NULL) {
		response_err(resp, COFFER_ERR_NOMEM);
		return;
	}
	response_legacy(resp, req, data);
}

static void mount_sys_tune_write(struct core *c, struct request *req, struct response *resp,
                                 const char *path)
{
	const char *desc = NULL;
	int64_t dttl = 0, mttl = 0;
	bool has_d = false, has_m = false;
	int rc;

	if (mount_sys_ttls(req->body, &dttl, &has_d, &mttl, &has_m) != 0 ||
	    coffer_json_get_string(req->body, "description", &desc) == COFFER_ERR_INVALID) {
		response_error(resp, 400, "lease TTLs must be durations, description a string");
		return;
	}
	rc = mount_table_tune(c->auth_mounts, path, desc, has_d ? &dttl : NULL,
	                      has_m ? &mttl : NULL);
	if (rc == COFFER_ERR_NOT_FOUND)
		response_error(resp, 400, "no mount at %s", path);
	else if (rc == COFFER_ERR_INVALID)
		response_error(resp, 400, "default_lease_ttl must not exceed max_lease_ttl");
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
}

static void mount_sys_auth_read(struct core *c, struct request *req, struct response *resp,
                                const char *path)
{
	struct mount_entry *m = mount_table_get(c->auth_mounts, path);
	json_t *data;

	if (m == NULL) {
		response_error(resp, 400, "no auth engine at %s", path);
		return;
	}
	data = mount_entry_json(m);
	mount_entry_release(m);
	if (data == NULL) {
		response_err(resp, COFFER_ERR_NOMEM);
		return;
	}
	response_envelope(resp, req, data, NULL, NULL);
}

/* sys/auth/<path>[/tune]: the path may have several segments, so the route is a prefix. */
static void mount_sys_auth_path(struct core *c, struct request *req, struct response *resp)
{
	char path[PATH_MAX_LEN + 2];
	bool is_tune, is_write = req->method == REQ_POST || req->method == REQ_PUT;

	if (mount_sys_path(req, path, sizeof(path), &is_tune) != 0) {
		response_error(resp, 400, "invalid mount path");
		return;
	}
	if (is_tune && is_write)
		mount_sys_tune_write(c, req, resp, path);
	else if (is_tune && req->method == REQ_GET && !req->is_list)
		mount_sys_tune_read(c, req, resp, path);
	else if (!is_tune && is_write)
		mount_sys_auth_enable(c, req, resp, path);
	else if (!is_tune && req->method == REQ_DELETE)
		mount_sys_auth_disable(c, resp, path);
	else if (!is_tune && req->method == REQ_GET && !req->is_list)
		mount_sys_auth_read(c, req, resp, path);
	else
		response_error(resp, 405, "unsupported operation");
}

const struct route mount_sys_routes[] = {
    {"sys/auth", REQ_M(REQ_GET), 0, mount_sys_auth_list, NULL},
    {"sys/auth/:path", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_PREFIX | ROUTE_SUDO,
     mount_sys_auth_path, NULL},
};
const size_t mount_sys_routes_len = sizeof(mount_sys_routes) / sizeof(mount_sys_routes[0]);
