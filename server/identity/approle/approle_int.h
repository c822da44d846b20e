/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approle_int.h: what the AppRole files share (approle.c: roles, login and the route table;
 * approle_secret.c: the secret_id routes; approle_store.c: storage under the mount's prefix).
 * Not for use outside the engine. Storage goes through the context's view of the mount.
 */
#ifndef COFFER_APPROLE_INT_H
#define COFFER_APPROLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/barrier.h"
#include "api/engine.h"
#include "crypto.h"
#include "api/request.h"

/* Labels of the keyed hashes (barrier_hash) of role_ids and secret_ids. */
#define APPROLE_ROLE_ID_LABEL "approle/role-id"
#define APPROLE_SECRET_ID_LABEL "approle/secret-id"
#define APPROLE_NAME_MAX 128
#define APPROLE_HEX_LEN (2 * COFFER_MAC_LEN + 1)
#define APPROLE_KEY_MAX 512

/* approle_store.c */

/* Serializes read-modify-write of roles and secret_ids (use counts, role_id changes). */
void approle_lock(void);
void approle_unlock(void);

/* A path in the mount's view, formatted into out (APPROLE_KEY_MAX bytes); COFFER_ERR_INVALID
 * when too long. */
int approle_key(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records are JSON objects read and written with auth_json_get() and auth_json_put()
 * (identity/auth_role.h). */
/* A barrier_op that puts v serialized; its value is released by approle_ops_free(). */
void approle_op_put(struct barrier_op *op, const char *path, const json_t *v);
void approle_ops_free(struct barrier_op *ops, size_t n);
/* Lowercase hex of the keyed hash of a role_id or secret_id (label says which). */
int approle_hash_hex(const struct engine_ctx *ctx, const char *label, const char *secret,
                     char out[APPROLE_HEX_LEN]);

/* [A-Za-z0-9_.-]{1,128}, and neither "." nor "..". */
bool approle_name_is_valid(const char *name);
/* The route's role name, or NULL after a 400. */
const char *approle_role_name(const struct request *req, struct response *resp);
int approle_role_load(const struct engine_ctx *ctx, const char *name, json_t **role);
/* The role of the route (and its name), or NULL after an error response (404 when absent). */
json_t *approle_role_or_error(const struct engine_ctx *ctx, const struct request *req,
                              struct response *resp, const char **name);
/* The role whose role_id is role_id, and its name (APPROLE_NAME_MAX + 1 bytes). */
int approle_role_by_id(const struct engine_ctx *ctx, const char *role_id, char *name,
                       json_t **role);
/* The key of the role-id index entry of role_id. */
int approle_role_id_key(const struct engine_ctx *ctx, const char *role_id,
                        char key[APPROLE_KEY_MAX]);
/* Persist role under name, moving the role-id index when its role_id differs from old_id (NULL
 * for a new role). COFFER_ERR_EXISTS when another role has the role_id. Call locked. */
int approle_role_store(const struct engine_ctx *ctx, const char *name, const json_t *role,
                       const char *old_id);

int64_t approle_int(const json_t *o, const char *key);
bool approle_list_is_empty(const json_t *o, const char *key);

/* The hash hexes of the secret_ids of role (free with barrier_list_free). */
int approle_secret_hexes(const struct engine_ctx *ctx, const char *role, char ***keys, size_t *n);
int approle_secret_load(const struct engine_ctx *ctx, const char *role, const char *hex,
                        json_t **entry);
/* Store entry for the secret_id whose hash is hex, with a new accessor (set in entry) and its
 * index entry. COFFER_ERR_EXISTS when the secret_id is already registered. Locks. */
int approle_secret_store(const struct engine_ctx *ctx, const char *role, const char *hex,
                         json_t *entry);
/* Delete a secret_id entry and its accessor index entry. Call locked. */
int approle_secret_delete(const struct engine_ctx *ctx, const char *role, const char *hex,
                          const json_t *entry);
/* Delete every secret_id of role. Call locked. */
int approle_secret_delete_all(const struct engine_ctx *ctx, const char *role);
bool approle_secret_is_expired(const json_t *entry, int64_t now);
/* Check and spend one use of secret_id for a login from req->remote_addr; *entry is its entry
 * (release it). COFFER_ERR_NOT_FOUND for an unknown, expired or used-up secret_id,
 * COFFER_ERR_PERMISSION when the address is outside its cidr_list. Locks. */
int approle_secret_use(const struct engine_ctx *ctx, const struct request *req, const char *role,
                       const char *secret_id, json_t **entry);

/* approle_secret.c: route handlers of role/:role_name/secret-id... */
void approle_secret_id(const struct engine_ctx *ctx, struct request *req, struct response *resp);
void approle_custom_secret_id(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp);
void approle_secret_lookup(const struct engine_ctx *ctx, struct request *req,
                           struct response *resp);
void approle_secret_destroy(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp);
void approle_accessor_lookup(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp);
void approle_accessor_destroy(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp);

#endif
