/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approle_store.c: AppRole's data below the mount's storage prefix: "role/<name>",
 * "role-id/<hash>" -> role name, "secret-id/<role>/<hash>" and "secret-id-accessor/<accessor>".
 * role_ids and secret_ids are stored only as keyed hashes. Used by approle.c and approle_secret.c.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "identity/approle/approle_int.h"
#include "identity/auth_role.h"
#include "cidr.h"
#include "codec.h"
#include "json.h"
#include "log.h"
#include "secmem.h"

static pthread_mutex_t approle_mutex = PTHREAD_MUTEX_INITIALIZER;

void approle_lock(void)
{
	pthread_mutex_lock(&approle_mutex);
}

void approle_unlock(void)
{
	pthread_mutex_unlock(&approle_mutex);
}

int approle_key(char *out, const char *fmt, ...)
{
	va_list ap;
	int m;

	va_start(ap, fmt);
	m = vsnprintf(out, APPROLE_KEY_MAX, fmt, ap);
	va_end(ap);
	return m < 0 || m >= APPROLE_KEY_MAX ? COFFER_ERR_INVALID : 0;
}

/* A barrier_op that puts v serialized; op->value is malloc'd (approle_ops_free). */
void approle_op_put(struct barrier_op *op, const char *path, const json_t *v)
{
	char *text = coffer_json_dump(v);

	*op = (struct barrier_op){BARRIER_PUT, path, (const uint8_t *)text, strlen(text)};
}

void approle_ops_free(struct barrier_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ops[i].type == BARRIER_PUT)
			coffer_json_free_text((char *)(uintptr_t)ops[i].value);
	}
}

/* Lowercase hex of the keyed hash of a role_id or secret_id. */
int approle_hash_hex(const struct engine_ctx *ctx, const char *label, const char *secret,
                     char out[APPROLE_HEX_LEN])
{
	uint8_t mac[COFFER_MAC_LEN];
	int rc;

	rc = barrier_view_hash(&ctx->store, label, secret, strlen(secret), mac);
	if (rc == 0)
		rc = codec_hex_encode(out, APPROLE_HEX_LEN, mac, sizeof(mac));
	secmem_wipe(mac, sizeof(mac));
	return rc;
}

bool approle_name_is_valid(const char *name)
{
	size_t i, len = name != NULL ? strlen(name) : 0;

	if (len == 0 || len > APPROLE_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

/* The route's role name, or NULL after a 400. */
const char *approle_role_name(const struct request *req, struct response *resp)
{
	const char *name = request_param(req, "role_name");

	if (!approle_name_is_valid(name)) {
		response_invalid(resp, "role name must be 1 to %d characters of A-Z a-z 0-9 _ . -",
		                 APPROLE_NAME_MAX);
		return NULL;
	}
	return name;
}

int approle_role_load(const struct engine_ctx *ctx, const char *name, json_t **role)
{
	char key[APPROLE_KEY_MAX];

	*role = NULL;
	if (approle_key(key, "role/%s", name) != 0)
		return COFFER_ERR_INVALID;
	return auth_json_get(ctx, key, role);
}

/* The role of the route, or NULL after an error response (404 when absent). */
json_t *approle_role_or_error(const struct engine_ctx *ctx, const struct request *req,
                              struct response *resp, const char **name)
{
	json_t *role = NULL;
	int rc;

	*name = approle_role_name(req, resp);
	if (*name == NULL)
		return NULL;
	rc = approle_role_load(ctx, *name, &role);
	if (rc == COFFER_ERR_NOT_FOUND)
		response_fail(resp, COFFER_ERR_NOT_FOUND, "role \"%s\" does not exist", *name);
	else if (rc != 0)
		response_err(resp, rc);
	return role;
}

int64_t approle_int(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

bool approle_list_is_empty(const json_t *o, const char *key)
{
	return json_array_size(json_object_get(o, key)) == 0;
}

/* The key of the role-id index entry of role_id. */
int approle_role_id_key(const struct engine_ctx *ctx, const char *role_id,
                        char key[APPROLE_KEY_MAX])
{
	char hex[APPROLE_HEX_LEN];
	int rc = approle_hash_hex(ctx, APPROLE_ROLE_ID_LABEL, role_id, hex);

	return rc == 0 ? approle_key(key, "role-id/%s", hex) : rc;
}

/* A put of the role-id index entry of role_id (at key) naming the role; COFFER_ERR_EXISTS when
 * the role_id is taken. Called locked (approle_lock()). */
static int approle_role_id_claim(const struct engine_ctx *ctx, const char *role_id,
                                 const char *name, char key[APPROLE_KEY_MAX], struct barrier_op *op)
{
	json_t *idx = NULL;
	int rc;

	rc = approle_role_id_key(ctx, role_id, key);
	if (rc != 0)
		return rc;
	rc = auth_json_get(ctx, key, &idx);
	json_decref(idx);
	if (rc != COFFER_ERR_NOT_FOUND)
		return rc == 0 ? COFFER_ERR_EXISTS : rc;
	idx = json_pack("{s:s}", "role_name", name);
	approle_op_put(op, key, idx);
	json_decref(idx);
	return 0;
}

/*
 * Persist role under name and, when its role_id differs from old_id (NULL for a new role), move
 * the role-id index in the same batch. COFFER_ERR_EXISTS when another role has the role_id.
 * Called locked (approle_lock()).
 */
int approle_role_store(const struct engine_ctx *ctx, const char *name, const json_t *role,
                       const char *old_id)
{
	const char *id = json_string_value(json_object_get(role, "role_id"));
	char rkey[APPROLE_KEY_MAX], nkey[APPROLE_KEY_MAX], okey[APPROLE_KEY_MAX];
	struct barrier_op ops[3];
	size_t n = 0;
	int rc;

	rc = approle_key(rkey, "role/%s", name);
	if (rc != 0)
		goto out;
	approle_op_put(&ops[0], rkey, role);
	n = 1;
	if (old_id == NULL || strcmp(old_id, id) != 0) {
		rc = approle_role_id_claim(ctx, id, name, nkey, &ops[1]);
		if (rc != 0)
			goto out;
		n = 2;
	}
	if (n == 2 && old_id != NULL) {
		rc = approle_role_id_key(ctx, old_id, okey);
		if (rc != 0)
			goto out;
		ops[n++] = (struct barrier_op){BARRIER_DELETE, okey, NULL, 0};
	}
	rc = barrier_view_batch(&ctx->store, ops, n, NULL);
out:
	approle_ops_free(ops, n);
	return rc;
}

/* Delete a secret_id entry (role, hash hex) and its accessor index entry. */
int approle_secret_delete(const struct engine_ctx *ctx, const char *role, const char *hex,
                          const json_t *entry)
{
	const char *acc = json_string_value(json_object_get(entry, "secret_id_accessor"));
	char key[APPROLE_KEY_MAX], akey[APPROLE_KEY_MAX];
	struct barrier_op ops[2];
	size_t n = 0;
	int rc;

	rc = approle_key(key, "secret-id/%s/%s", role, hex);
	if (rc != 0)
		return rc;
	ops[n++] = (struct barrier_op){BARRIER_DELETE, key, NULL, 0};
	if (acc != NULL && approle_key(akey, "secret-id-accessor/%s", acc) == 0)
		ops[n++] = (struct barrier_op){BARRIER_DELETE, akey, NULL, 0};
	return barrier_view_batch(&ctx->store, ops, n, NULL);
}

/* The hash hexes of the secret_ids of role (barrier_list keys; barrier_list_free). */
int approle_secret_hexes(const struct engine_ctx *ctx, const char *role, char ***keys, size_t *n)
{
	char folder[APPROLE_KEY_MAX];
	int rc = approle_key(folder, "secret-id/%s/", role);

	*keys = NULL;
	*n = 0;
	return rc == 0 ? barrier_view_list(&ctx->store, folder, keys, n) : rc;
}

int approle_secret_load(const struct engine_ctx *ctx, const char *role, const char *hex,
                        json_t **entry)
{
	char key[APPROLE_KEY_MAX];
	int rc = approle_key(key, "secret-id/%s/%s", role, hex);

	*entry = NULL;
	return rc == 0 ? auth_json_get(ctx, key, entry) : rc;
}

/* Delete every secret_id of role. Called locked (approle_lock()). */
int approle_secret_delete_all(const struct engine_ctx *ctx, const char *role)
{
	char **keys = NULL;
	json_t *entry;
	size_t i, n = 0;
	int rc;

	rc = approle_secret_hexes(ctx, role, &keys, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = approle_secret_load(ctx, role, keys[i], &entry);
		if (rc == 0)
			rc = approle_secret_delete(ctx, role, keys[i], entry);
		else if (rc == COFFER_ERR_NOT_FOUND)
			rc = 0;
		json_decref(entry);
	}
	barrier_list_free(keys, n);
	return rc;
}

/* Store entry for the secret_id whose hash is hex, with a new accessor and its index entry.
 * COFFER_ERR_EXISTS when the secret_id is already registered. */
int approle_secret_store(const struct engine_ctx *ctx, const char *role, const char *hex,
                         json_t *entry)
{
	char key[APPROLE_KEY_MAX], akey[APPROLE_KEY_MAX], acc[37];
	struct barrier_op ops[2];
	json_t *idx = NULL, *old = NULL;
	size_t n = 0;
	int rc;

	coffer_uuid(acc);
	rc = approle_key(key, "secret-id/%s/%s", role, hex);
	if (rc == 0)
		rc = approle_key(akey, "secret-id-accessor/%s", acc);
	if (rc != 0)
		return rc;
	idx = json_pack("{s:s,s:s}", "secret_id_hmac", hex, "role_name", role);
	approle_lock();
	rc = auth_json_get(ctx, key, &old);
	rc = rc == 0 ? COFFER_ERR_EXISTS : rc == COFFER_ERR_NOT_FOUND ? 0 : rc;
	if (rc == 0) {
		json_object_set_new(entry, "secret_id_accessor", json_string(acc));
		approle_op_put(&ops[0], key, entry);
		approle_op_put(&ops[1], akey, idx);
		n = 2;
		rc = barrier_view_batch(&ctx->store, ops, n, NULL);
	}
	approle_unlock();
	approle_ops_free(ops, n);
	json_decref(old);
	json_decref(idx);
	return rc;
}

bool approle_secret_is_expired(const json_t *entry, int64_t now)
{
	int64_t exp = approle_int(entry, "expiration_time");

	return exp > 0 && now >= exp;
}

/* The role whose role_id is role_id, and its name (APPROLE_NAME_MAX + 1). */
int approle_role_by_id(const struct engine_ctx *ctx, const char *role_id, char *name, json_t **role)
{
	char key[APPROLE_KEY_MAX];
	json_t *idx = NULL;
	const char *n;
	int rc;

	*role = NULL;
	rc = approle_role_id_key(ctx, role_id, key);
	if (rc == 0)
		rc = auth_json_get(ctx, key, &idx);
	n = json_string_value(json_object_get(idx, "role_name"));
	if (rc == 0 && !approle_name_is_valid(n))
		rc = COFFER_ERR_INTERNAL;
	if (rc == 0) {
		snprintf(name, APPROLE_NAME_MAX + 1, "%s", n);
		rc = approle_role_load(ctx, name, role);
	}
	json_decref(idx);
	return rc;
}

/* The keyed hash makes the lookup independent of how much of a guess is right. */
int approle_secret_use(const struct engine_ctx *ctx, const struct request *req, const char *role,
                       const char *secret_id, json_t **entry)
{
	char hex[APPROLE_HEX_LEN], key[APPROLE_KEY_MAX];
	int64_t now = coffer_clock_now_s(), uses;
	int rc;

	*entry = NULL;
	rc = approle_hash_hex(ctx, APPROLE_SECRET_ID_LABEL, secret_id, hex);
	if (rc != 0)
		return rc;
	approle_lock();
	rc = approle_secret_load(ctx, role, hex, entry);
	if (rc == 0 && approle_secret_is_expired(*entry, now)) {
		rc = approle_secret_delete(ctx, role, hex, *entry);
		rc = rc == 0 ? COFFER_ERR_NOT_FOUND : rc;
	}
	if (rc == 0 && !approle_list_is_empty(*entry, "cidr_list") &&
	    !cidr_list_contains(json_object_get(*entry, "cidr_list"), req->remote_addr))
		rc = COFFER_ERR_PERMISSION;
	uses = rc == 0 ? approle_int(*entry, "secret_id_num_uses") : 0;
	if (uses == 1) {
		rc = approle_secret_delete(ctx, role, hex, *entry);
	} else if (uses > 1) {
		json_object_set_new(*entry, "secret_id_num_uses", json_integer(uses - 1));
		json_object_set_new(*entry, "last_updated_time", json_integer(now));
		rc = approle_key(key, "secret-id/%s/%s", role, hex);
		if (rc == 0)
			rc = auth_json_put(ctx, key, *entry);
	}
	approle_unlock();
	return rc;
}
