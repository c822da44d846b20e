/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_roles.c: token roles of the auth/token/ engine (API.md "auth/token"): read, write, delete
 * and list "roles/<name>" in the engine's view ("token/roles/<name>"), and the LIST answers that
 * token_routes.c shares. Token creation by role (token_routes.c) loads them here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/engine.h"
#include "duration.h"
#include "identity/token_int.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

#define TR_ROLE_MAX 128
#define TR_PATH_CAP 512

static bool tr_name_is_valid(const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	return len > 0 && len <= TR_ROLE_MAX && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	           len;
}

int token_role_load(const struct engine_ctx *ctx, const char *name, json_t **out)
{
	char path[TR_PATH_CAP];
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	if (!tr_name_is_valid(name))
		return COFFER_ERR_NOT_FOUND;
	snprintf(path, sizeof(path), TOKEN_DIR_ROLES "%s", name);
	if ((err = barrier_view_get(&ctx->store, path, &buf, &len)) != 0)
		return err;
	err = coffer_json_parse_object((const char *)buf, len, out, NULL, 0);
	secmem_freezero(buf, len);
	return err != 0 ? COFFER_ERR_INTEGRITY : 0;
}

/* A LIST of a barrier folder as data{keys}; 404 {"errors":[]} when empty. */
void token_route_list(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                      const char *folder)
{
	json_t *keys = json_array();
	char **names = NULL;
	size_t n = 0;
	int err;

	err = barrier_view_list(&ctx->store, folder, &names, &n);
	for (size_t i = 0; err == 0 && i < n; i++)
		json_array_append_new(keys, json_string(names[i]));
	barrier_list_free(names, n);
	if (err != 0) {
		json_decref(keys);
		response_err(resp, err);
	} else if (json_array_size(keys) == 0) {
		json_decref(keys);
		response_not_found(resp);
	} else {
		response_envelope(resp, req, json_pack("{s:o}", "keys", keys), NULL, NULL);
	}
}

void token_roles_list_route(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	token_route_list(ctx, req, resp, TOKEN_DIR_ROLES);
}

/* path_suffix: segments of [A-Za-z0-9._-] separated by single '/', no "." or "..". */
static bool tr_suffix_is_valid(const char *s)
{
	char buf[TR_ROLE_MAX + 1], *save = NULL;
	size_t len = strlen(s);

	if (len == 0)
		return true;
	if (len > TR_ROLE_MAX || s[0] == '/' || s[len - 1] == '/' || strstr(s, "//") != NULL)
		return false;
	memcpy(buf, s, len + 1);
	for (char *seg = strtok_r(buf, "/", &save); seg != NULL; seg = strtok_r(NULL, "/", &save)) {
		if (!tr_name_is_valid(seg))
			return false;
	}
	return true;
}

/* A duration field under either of its names (Vault renamed them token_*). */
static int tr_role_duration(const json_t *body, json_t *role, const char *key, const char *alias)
{
	int64_t d = 0;
	int err = coffer_json_get_duration(body, key, &d);

	if (err == COFFER_ERR_NOT_FOUND)
		err = coffer_json_get_duration(body, alias, &d);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0 || d < 0)
		return COFFER_ERR_INVALID;
	json_object_set_new(role, key, json_integer(d));
	return 0;
}

static int tr_role_list_field(const json_t *body, json_t *role, const char *key)
{
	json_t *list = NULL;
	int err = coffer_json_get_string_list(body, key, &list);

	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0)
		return err;
	json_object_set_new(role, key, list);
	return 0;
}

static int tr_role_bool_field(const json_t *body, json_t *role, const char *key)
{
	bool b = false;
	int err = coffer_json_get_bool(body, key, &b);

	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0)
		return err;
	json_object_set_new(role, key, json_boolean(b));
	return 0;
}

/* Apply the fields of body to role (a stored role, or the defaults). */
static int tr_role_update(const json_t *body, json_t *role, const char **bad)
{
	const char *s = NULL;

	TOKEN_FIELD(tr_role_list_field(body, role, "allowed_policies"), "allowed_policies");
	TOKEN_FIELD(tr_role_list_field(body, role, "disallowed_policies"), "disallowed_policies");
	TOKEN_FIELD(tr_role_bool_field(body, role, "orphan"), "orphan");
	TOKEN_FIELD(tr_role_bool_field(body, role, "renewable"), "renewable");
	TOKEN_FIELD(tr_role_duration(body, role, "period", "token_period"), "period");
	TOKEN_FIELD(tr_role_duration(body, role, "explicit_max_ttl", "token_explicit_max_ttl"),
	            "explicit_max_ttl");
	TOKEN_FIELD(coffer_json_get_string(body, "path_suffix", &s), "path_suffix");
	if (s != NULL) {
		if (!tr_suffix_is_valid(s)) {
			*bad = "path_suffix";
			return COFFER_ERR_INVALID;
		}
		json_object_set_new(role, "path_suffix", json_string(s));
	}
	s = NULL;
	TOKEN_FIELD(coffer_json_get_string(body, "token_type", &s), "token_type");
	if (s != NULL && strcmp(s, "service") != 0 && strcmp(s, "default-service") != 0 &&
	    strcmp(s, "default") != 0) {
		*bad = "token_type";
		return COFFER_ERR_INVALID;
	}
	return 0;
}

static void tr_role_write(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                          const char *name)
{
	char path[TR_PATH_CAP];
	const char *bad = NULL;
	json_t *role = NULL;
	char *text = NULL;
	int err;

	err = token_role_load(ctx, name, &role);
	if (err == COFFER_ERR_NOT_FOUND) {
		role = json_pack("{s:[],s:[],s:b,s:I,s:b,s:I,s:s,s:s}", "allowed_policies",
		                 "disallowed_policies", "orphan", 0, "period", (json_int_t)0,
		                 "renewable", 1, "explicit_max_ttl", (json_int_t)0, "path_suffix",
		                 "", "token_type", "service");
		err = 0;
	}
	if (err == 0 && tr_role_update(req->body, role, &bad) != 0) {
		response_invalid(resp, "invalid value for \"%s\"", bad);
		goto out;
	}
	if (err == 0)
		text = coffer_json_dump(role);
	snprintf(path, sizeof(path), TOKEN_DIR_ROLES "%s", name);
	if (err == 0)
		err = barrier_view_put(&ctx->store, path, (const uint8_t *)text, strlen(text));
	if (err != 0)
		response_err(resp, err);
	else
		response_no_content(resp);
out:
	coffer_json_free_text(text);
	json_decref(role);
}

static void tr_role_read(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                         const char *name)
{
	json_t *role = NULL;
	int err = token_role_load(ctx, name, &role);

	if (err == COFFER_ERR_NOT_FOUND) {
		response_not_found(resp);
		return;
	}
	if (err != 0) {
		response_err(resp, err);
		return;
	}
	/* The stored role plus its name and the newer names of two fields. */
	json_object_set_new(role, "name", json_string(name));
	json_object_set(role, "token_explicit_max_ttl", json_object_get(role, "explicit_max_ttl"));
	json_object_set(role, "token_period", json_object_get(role, "period"));
	response_envelope(resp, req, role, NULL, NULL);
}

void token_role_route(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *name = request_param(req, "role_name");
	char path[TR_PATH_CAP];
	int err;

	if (!tr_name_is_valid(name)) {
		response_invalid(resp, "invalid role name");
		return;
	}
	if (req->method == REQ_GET) {
		tr_role_read(ctx, req, resp, name);
		return;
	}
	if (req->method != REQ_DELETE) {
		tr_role_write(ctx, req, resp, name);
		return;
	}
	snprintf(path, sizeof(path), TOKEN_DIR_ROLES "%s", name);
	if ((err = barrier_view_delete(&ctx->store, path)) != 0)
		response_err(resp, err);
	else
		response_no_content(resp);
}

int token_role_exists(const struct engine_ctx *ctx, struct request *req)
{
	json_t *role = NULL;
	int err = token_role_load(ctx, request_param(req, "role_name"), &role);

	json_decref(role);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	return err == 0 ? 1 : err;
}

/* Patterns are relative to the mount ("auth/token/"). */
