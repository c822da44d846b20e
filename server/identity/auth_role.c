/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_role.c: records, role routes, globs and the login token of the role-based login methods
 * (auth_role.h).
 */
#include "identity/auth_role.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/mount_state.h"
#include "cidr.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "identity/token.h"
#include "identity/token_fields.h"
#include "xmalloc.h"

int auth_json_get(const struct engine_ctx *ctx, const char *path, json_t **out)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = barrier_view_get(&ctx->store, path, &text, &len);
	if (rc != 0)
		return rc;
	*out = json_loadb((const char *)text, len, 0, NULL);
	secmem_freezero(text, len);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		log_error("auth: the stored record %s of a mount is malformed", path);
		return COFFER_ERR_INTERNAL;
	}
	return 0;
}

int auth_json_put(const struct engine_ctx *ctx, const char *path, const json_t *v)
{
	char *text = coffer_json_dump(v);
	int rc = barrier_view_put(&ctx->store, path, (const uint8_t *)text, strlen(text));

	coffer_json_free_text(text);
	return rc;
}

static bool auth_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

bool auth_role_name_is_valid(const char *name)
{
	size_t i, n = name == NULL ? 0 : strlen(name);

	if (n == 0 || n > AUTH_ROLE_NAME_MAX || !auth_word_char(name[0]) ||
	    !auth_word_char(name[n - 1]))
		return false;
	for (i = 1; i + 1 < n; i++)
		if (!auth_word_char(name[i]) && name[i] != '-' && name[i] != '.')
			return false;
	return true;
}

void auth_role_lower(const char *name, char out[AUTH_ROLE_NAME_MAX + 1])
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < AUTH_ROLE_NAME_MAX; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[i] = '\0';
}

const char *auth_role_param(const struct request *req, struct response *resp,
                            char out[AUTH_ROLE_NAME_MAX + 1])
{
	const char *name = request_param(req, "name");

	if (!auth_role_name_is_valid(name)) {
		response_invalid(resp,
		                 "invalid role name \"%s\": use letters, digits, '_', '-' and "
		                 "'.', beginning and ending with a letter, digit or '_'",
		                 name != NULL ? name : "");
		return NULL;
	}
	auth_role_lower(name, out);
	return out;
}

static int auth_role_key(char *key, size_t cap, const char *name)
{
	size_t i, n;

	if (!auth_role_name_is_valid(name))
		return COFFER_ERR_NOT_FOUND;
	n = (size_t)snprintf(key, cap, "role/%s", name);
	for (i = 5; i < n; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	return 0;
}

int auth_role_load(const struct engine_ctx *ctx, const char *name, json_t **role)
{
	char key[AUTH_ROLE_NAME_MAX + 8];
	int rc = auth_role_key(key, sizeof(key), name);

	*role = NULL;
	return rc != 0 ? rc : auth_json_get(ctx, key, role);
}

int auth_role_store(const struct engine_ctx *ctx, const char *name, const json_t *role)
{
	char key[AUTH_ROLE_NAME_MAX + 8];
	int rc = auth_role_key(key, sizeof(key), name);

	return rc != 0 ? COFFER_ERR_INVALID : auth_json_put(ctx, key, role);
}

/* Serializes config and role writes of the role-based methods (writes are rare; logins do not
 * take it). */
static pthread_mutex_t auth_write_mu = PTHREAD_MUTEX_INITIALIZER;

int auth_role_update(const struct engine_ctx *ctx, const struct request *req, struct response *resp,
                     json_t *(*defaults)(void),
                     const char *(*apply)(const json_t *body, json_t *role, char *msg, size_t cap),
                     json_t **role)
{
	char name[AUTH_ROLE_NAME_MAX + 1], buf[256];
	const char *msg;
	int rc;

	*role = NULL;
	if (auth_role_param(req, resp, name) == NULL)
		return COFFER_ERR_INVALID;
	pthread_mutex_lock(&auth_write_mu);
	rc = auth_role_load(ctx, name, role);
	if (rc == COFFER_ERR_NOT_FOUND) {
		*role = defaults();
		rc = 0;
	}
	if (rc != 0) {
		response_err(resp, rc);
	} else if ((msg = apply(req->body, *role, buf, sizeof(buf))) != NULL) {
		response_invalid(resp, "%s", msg);
		rc = COFFER_ERR_INVALID;
	} else if ((rc = auth_role_store(ctx, name, *role)) != 0) {
		response_err(resp, rc);
	}
	pthread_mutex_unlock(&auth_write_mu);
	if (rc != 0) {
		json_decref(*role);
		*role = NULL;
	}
	return rc;
}

int auth_config_commit(const struct engine_ctx *ctx, const json_t *config, struct mount_state *st)
{
	int rc;

	pthread_mutex_lock(&auth_write_mu);
	rc = auth_json_put(ctx, "config", config);
	if (rc == 0)
		mount_state_set(ctx->store.prefix, st);
	pthread_mutex_unlock(&auth_write_mu);
	if (rc != 0)
		mount_state_release(st);
	return rc;
}

void auth_load_failed(struct response *resp, int rc)
{
	if (rc == COFFER_ERR_NOT_FOUND)
		response_not_found(resp);
	else
		response_err(resp, rc);
}

json_t *auth_role_of_route(const struct engine_ctx *ctx, const struct request *req,
                           struct response *resp, char name[AUTH_ROLE_NAME_MAX + 1])
{
	json_t *role = NULL;
	int rc;

	if (auth_role_param(req, resp, name) == NULL)
		return NULL;
	rc = auth_role_load(ctx, name, &role);
	if (rc != 0)
		auth_load_failed(resp, rc);
	return role;
}

void auth_role_route(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                     route_fn read, route_fn write)
{
	if (req->method == REQ_GET)
		read(ctx, req, resp);
	else if (req->method == REQ_DELETE)
		auth_role_delete(ctx, req, resp);
	else
		write(ctx, req, resp);
}

int auth_state_purge(const struct engine_ctx *ctx)
{
	mount_state_set(ctx->store.prefix, NULL);
	return 0;
}

bool auth_login_address_ok(const struct request *req, struct response *resp, const char *method,
                           const char *role_name, const json_t *role)
{
	const json_t *cidrs = json_object_get(role, "token_bound_cidrs");

	if (json_array_size(cidrs) == 0 || cidr_list_contains(cidrs, req->remote_addr))
		return true;
	log_warn("%s login refused for role %s: address %s is outside the role's "
	         "token_bound_cidrs",
	         method, role_name, req->remote_addr);
	response_fail(resp, COFFER_ERR_PERMISSION,
	              "login refused: address: %s is outside the role's token_bound_cidrs",
	              req->remote_addr);
	return false;
}

void auth_role_list(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char **keys = NULL;
	json_t *arr;
	size_t i, n = 0;
	int rc = barrier_view_list(&ctx->store, "role/", &keys, &n);

	if (rc != 0) {
		response_err(resp, rc);
		return;
	}
	if (n == 0) {
		response_not_found(resp);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(keys[i]));
	barrier_list_free(keys, n);
	response_envelope(resp, req, json_pack("{s:o}", "keys", arr), NULL, NULL);
}

void auth_role_delete(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char name[AUTH_ROLE_NAME_MAX + 1], key[AUTH_ROLE_NAME_MAX + 8];
	int rc;

	if (auth_role_param(req, resp, name) == NULL)
		return;
	rc = auth_role_key(key, sizeof(key), name);
	if (rc == 0)
		rc = barrier_view_delete(&ctx->store, key);
	if (rc == 0 || rc == COFFER_ERR_NOT_FOUND)
		response_no_content(resp);
	else
		response_err(resp, rc);
}

int auth_role_exists(const struct engine_ctx *ctx, struct request *req)
{
	json_t *role = NULL;
	int rc = auth_role_load(ctx, request_param(req, "name"), &role);

	json_decref(role);
	if (rc == COFFER_ERR_NOT_FOUND)
		return 0;
	return rc == 0 ? 1 : rc;
}

bool auth_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			mark = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool auth_list_matches(const json_t *list, const char *s)
{
	const json_t *v;
	size_t i;

	if (s == NULL)
		return false;
	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) && auth_glob_match(json_string_value(v), s))
			return true;
	}
	return false;
}

void auth_login_issue(const struct engine_ctx *ctx, const struct request *req,
                      struct response *resp, const char *method, const char *role_name,
                      const json_t *role, const json_t *meta, const char *display_name)
{
	struct token_params p = {0};
	struct token_entry *e = NULL;
	char path[PATH_MAX_LEN + 1], *text = NULL;
	int rc;

	snprintf(path, sizeof(path), "auth/%slogin", req->mount->path);
	token_fields_params(role, req->mount, &p);
	p.meta = meta;
	p.display_name = display_name;
	p.path = path;
	rc = token_create(ctx->tokens, &p, &text, &e);
	if (rc != 0) {
		log_error("%s login for role %s: token creation failed: %s", method, role_name,
		          coffer_strerror(rc));
		response_err(resp, rc);
	} else {
		log_info("%s login for role %s (%s): token %s", method, role_name, display_name,
		         e->accessor);
		response_envelope(resp, req, NULL, token_auth_json(e, text), NULL);
	}
	secmem_free(text);
	token_entry_release(e);
}

int auth_role_renew(const struct engine_ctx *ctx, const json_t *token_meta,
                    struct token_renew_limits *lim, char *msg, size_t cap)
{
	const char *name = json_string_value(json_object_get(token_meta, "role"));
	json_t *role = NULL;
	int rc = auth_role_load(ctx, name, &role);

	if (rc == COFFER_ERR_NOT_FOUND) {
		snprintf(msg, cap, "role \"%s\" does not exist during renewal", name ? name : "");
		return COFFER_ERR_INVALID;
	}
	if (rc != 0)
		return rc;
	token_fields_limits(role, lim);
	json_decref(role);
	return 0;
}
