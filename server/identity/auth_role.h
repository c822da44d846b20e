/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_role.h: what the role-based login methods (kubernetes, jwt) share: their records (a
 * "config" and "role/<name>" JSON objects in the mount's view), Vault's role names (stored
 * lower-cased), the role list, read-back and delete routes, '*' globs, and the token a successful
 * login gets from its role's token_* settings (identity/token_fields.h).
 */
#ifndef COFFER_AUTH_ROLE_H
#define COFFER_AUTH_ROLE_H

#include <stdbool.h>

#include <jansson.h>

#include "api/engine.h"
#include "api/request.h"

struct mount_state;

#define AUTH_ROLE_NAME_MAX 128

/* A stored JSON object at path in the mount's view: 0, COFFER_ERR_NOT_FOUND, or another error. */
int auth_json_get(const struct engine_ctx *ctx, const char *path, json_t **out);
int auth_json_put(const struct engine_ctx *ctx, const char *path, const json_t *v);

/* Vault's role names: \w(([\w-.]+)?\w)?, at most AUTH_ROLE_NAME_MAX bytes. */
bool auth_role_name_is_valid(const char *name);
/* name lower-cased into out (at most AUTH_ROLE_NAME_MAX bytes kept). */
void auth_role_lower(const char *name, char out[AUTH_ROLE_NAME_MAX + 1]);
/* The route's :name, lower-cased into out, or NULL after a 400. */
const char *auth_role_param(const struct request *req, struct response *resp,
                            char out[AUTH_ROLE_NAME_MAX + 1]);
/* The role called name (any case): 0, COFFER_ERR_NOT_FOUND, or another error. */
int auth_role_load(const struct engine_ctx *ctx, const char *name, json_t **role);
int auth_role_store(const struct engine_ctx *ctx, const char *name, const json_t *role);

/* Answer a failed load: 404 (Vault's empty errors) for COFFER_ERR_NOT_FOUND, else the error. */
void auth_load_failed(struct response *resp, int rc);
/* The role of the route's :name (lower-cased into name), or NULL after a 400 or a 404. */
json_t *auth_role_of_route(const struct engine_ctx *ctx, const struct request *req,
                           struct response *resp, char name[AUTH_ROLE_NAME_MAX + 1]);
/* role/:name: GET is read, DELETE auth_role_delete(), a write write. */
void auth_role_route(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                     route_fn read, route_fn write);
/* The purge of these methods (struct engine.purge): drop the mount's in-memory state; mount.c
 * deletes the records. */
int auth_state_purge(const struct engine_ctx *ctx);
/* A login's bound CIDRs: true when the role has none or they hold the caller's address;
 * otherwise the 403 is answered and logged (method and role named). */
bool auth_login_address_ok(const struct request *req, struct response *resp, const char *method,
                           const char *role_name, const json_t *role);

/* A role write under the methods' write lock (concurrent updates of one role do not lose
 * each other's fields): the route's role, or defaults() for a new one, with apply() run on the
 * body (NULL, or a 400's message in msg). 0 with *role the stored role (release it); otherwise
 * the error was answered. */
int auth_role_update(const struct engine_ctx *ctx, const struct request *req, struct response *resp,
                     json_t *(*defaults)(void),
                     const char *(*apply)(const json_t *body, json_t *role, char *msg, size_t cap),
                     json_t **role);
/* Store a mount's config and then give logins st (built from it; its reference passes), under
 * the same lock, so two writes cannot leave the store with one and logins with the other. On an
 * error st is released and nothing changes. */
int auth_config_commit(const struct engine_ctx *ctx, const json_t *config, struct mount_state *st);

/* Routes: LIST role, DELETE role/:name, and the existence check of role/:name. */
void auth_role_list(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void auth_role_delete(const struct engine_ctx *ctx, struct request *req, struct response *resp);
int auth_role_exists(const struct engine_ctx *ctx, struct request *req);

/* A pattern whose only special character is '*' (any run, empty included) against s. */
bool auth_glob_match(const char *pattern, const char *s);
/* Whether a string of list is "*", or a glob that matches s. */
bool auth_list_matches(const json_t *list, const char *s);

/*
 * Answer a successful login: a token with the role's token_* settings, metadata meta (copied),
 * display_name; logs "<method> login for role <name>: token <accessor>". With no error the
 * response is Vault's auth block.
 */
void auth_login_issue(const struct engine_ctx *ctx, const struct request *req,
                      struct response *resp, const char *method, const char *role_name,
                      const json_t *role, const json_t *meta, const char *display_name);

/* The renew hook of these methods (struct engine.renew): the role named by the token's "role"
 * metadata must still exist; its token_* settings apply to the renewal. */
int auth_role_renew(const struct engine_ctx *ctx, const json_t *token_meta,
                    struct token_renew_limits *lim, char *msg, size_t cap);

#endif
