/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_routes.c: sys/audit (list, enable, disable; sudo) and sys/audit-hash (API.md). Enabling a
 * device through the API needs "allow_api_audit": true in the config file and a file inside
 * "audit_dir" (DESIGN.md §6). Called by the router; the broker (audit.c) does the work.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "api/tables.h"
#include "json.h"

/* Lexical checks: absolute, no "." or ".." segment. */
static bool audit_path_is_clean(const char *p)
{
	const char *seg = p;
	size_t len;

	if (p[0] != '/')
		return false;
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		len = strcspn(seg, "/");
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg += len;
	}
	return true;
}

static bool audit_is_below(const char *dir, const char *p)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* The canonical form of an API-given file_path inside audit_dir (no "..", no symlink escaping
 * it, parent directory existing, not a symlink itself) into out. COFFER_ERR_INVALID with err. */
static int audit_file_path_check(const char *audit_dir, const char *file_path, char *out,
                                 size_t cap, char *err, size_t err_len)
{
	char parent[PATH_MAX], real_parent[PATH_MAX], real_dir[PATH_MAX];
	const char *base;
	struct stat st;

	if (strlen(file_path) >= sizeof(parent) || !audit_path_is_clean(file_path)) {
		snprintf(err, err_len,
		         "file_path must be an absolute path without . or .. segments");
		return COFFER_ERR_INVALID;
	}
	base = strrchr(file_path, '/') + 1;
	if (*base == '\0') {
		snprintf(err, err_len, "file_path must name a file");
		return COFFER_ERR_INVALID;
	}
	snprintf(parent, sizeof(parent), "%.*s", (int)(base - file_path), file_path);
	/* Symlinks in the directories are resolved, so that none can lead out of audit_dir. */
	if (realpath(audit_dir, real_dir) == NULL || realpath(parent, real_parent) == NULL ||
	    !audit_is_below(real_dir, real_parent)) {
		snprintf(err, err_len, "file_path must be inside audit_dir");
		return COFFER_ERR_INVALID;
	}
	if ((size_t)snprintf(out, cap, "%s/%s", strcmp(real_parent, "/") == 0 ? "" : real_parent,
	                     base) >= cap) {
		snprintf(err, err_len, "file_path is too long");
		return COFFER_ERR_INVALID;
	}
	/* The file itself may not be a symlink (opened with O_NOFOLLOW as well). */
	if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "file_path must be a regular file, not a symlink");
		return COFFER_ERR_INVALID;
	}
	return 0;
}

/* The :path parameter, normalized; false (and a 400 in resp) when invalid. */
static bool audit_route_path(const struct request *req, struct response *resp, char *out,
                             size_t cap)
{
	const char *p = request_param(req, "path");

	if (p == NULL || audit_path_normalize(p, out, cap) != 0) {
		response_invalid(resp,
		                 "invalid audit device path: one segment of letters, digits, '.', "
		                 "'_' or '-'");
		return false;
	}
	return true;
}

static void audit_route_list(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	response_legacy(resp, req, audit_broker_list_json(ctx->audit));
}

/* type "file", an optional description, and options{file_path} (nothing else). */
static int audit_route_params(const struct request *req, const char **desc, const char **file_path,
                              char *err, size_t err_len)
{
	const json_t *options = json_object_get(req->body, "options");
	const char *type = NULL, *key;
	json_t *v;

	if (coffer_json_get_string(req->body, "type", &type) != 0 || strcmp(type, "file") != 0) {
		snprintf(err, err_len, "type must be \"file\"");
		return COFFER_ERR_INVALID;
	}
	if (coffer_json_get_string(req->body, "description", desc) == COFFER_ERR_INVALID) {
		snprintf(err, err_len, "description must be a string");
		return COFFER_ERR_INVALID;
	}
	if (!json_is_object(options) ||
	    coffer_json_get_string(options, "file_path", file_path) != 0) {
		snprintf(err, err_len, "options.file_path is required");
		return COFFER_ERR_INVALID;
	}
	json_object_foreach((json_t *)options, key, v)
	{
		if (strcmp(key, "file_path") != 0 && !json_is_null(v)) {
			snprintf(err, err_len, "unsupported option \"%.64s\"", key);
			return COFFER_ERR_INVALID;
		}
	}
	return 0;
}

static void audit_route_enable(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	char path[AUDIT_NAME_MAX + 2], file[PATH_MAX], err[400] = "";
	const char *desc = "", *file_path = NULL;
	int rc;

	if (!audit_route_path(req, resp, path, sizeof(path)))
		return;
	if (!ctx->settings->allow_api_audit || ctx->settings->audit_dir == NULL) {
		response_fail(resp, COFFER_ERR_PERMISSION,
		              "audit: enabling audit devices through the API is disabled; declare "
		              "them in the config file, or set \"allow_api_audit\": true and "
		              "\"audit_dir\"");
		return;
	}
	if (audit_route_params(req, &desc, &file_path, err, sizeof(err)) != 0 ||
	    audit_file_path_check(ctx->settings->audit_dir, file_path, file, sizeof(file), err,
	                          sizeof(err)) != 0) {
		response_invalid(resp, "audit: %s", err);
		return;
	}
	rc = audit_broker_enable(ctx->audit, path, desc, file, err, sizeof(err));
	if (rc == COFFER_ERR_EXISTS || rc == COFFER_ERR_INVALID || rc == COFFER_ERR_LIMIT)
		response_invalid(resp, "audit: %s", err);
	else if (rc != 0)
		response_fail(resp, rc, "audit: %s", err);
	else
		response_no_content(resp);
}

static void audit_route_disable(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	char path[AUDIT_NAME_MAX + 2], err[400] = "";
	int rc;

	if (!audit_route_path(req, resp, path, sizeof(path)))
		return;
	rc = audit_broker_disable(ctx->audit, path, err, sizeof(err));
	if (rc == COFFER_ERR_INVALID)
		response_invalid(resp, "audit: %s", err);
	else if (rc != 0)
		response_fail(resp, rc, "audit: %s", err);
	else
		response_no_content(resp);
}

static void audit_route_device(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	if (req->method == REQ_DELETE)
		audit_route_disable(ctx, req, resp);
	else
		audit_route_enable(ctx, req, resp);
}

static void audit_route_hash(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	char path[AUDIT_NAME_MAX + 2], out[AUDIT_HMAC_TEXT_LEN + 1];
	const json_t *input = json_object_get(req->body, "input");
	int rc;

	if (!audit_route_path(req, resp, path, sizeof(path)))
		return;
	if (!json_is_string(input)) {
		response_invalid(resp, "input must be a string");
		return;
	}
	rc = audit_broker_hash(ctx->audit, path, json_string_value(input),
	                       json_string_length(input), out);
	if (rc == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "unknown audit device: %s", path);
		return;
	}
	if (rc != 0) {
		response_err(resp, rc);
		return;
	}
	response_legacy(resp, req, json_pack("{s:s}", "hash", out));
}

/* GET sys/audit-key: the public key that verifies the logs' signed checkpoints. */
static void audit_route_key(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	char pk[AUDIT_PK_TEXT_LEN + 1];
	int rc = audit_broker_public_key(ctx->audit, pk);

	if (rc != 0) {
		response_err(resp, rc);
		return;
	}
	response_legacy(resp, req,
	                json_pack("{s:s,s:s}", "algorithm", "ed25519", "public_key", pk));
}

const struct route audit_routes[] = {
    {"sys/audit", REQ_M(REQ_GET), ROUTE_SUDO, audit_route_list, NULL},
    {"sys/audit-key", REQ_M(REQ_GET), 0, audit_route_key, NULL},
    {"sys/audit/:path", REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_SUDO, audit_route_device, NULL},
    {"sys/audit-hash/:path", REQ_M_WRITE, 0, audit_route_hash, NULL},
};
const size_t audit_routes_len = sizeof(audit_routes) / sizeof(audit_routes[0]);
