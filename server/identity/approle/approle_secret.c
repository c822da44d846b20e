/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approle_secret.c: AppRole's secret_id routes (API.md "auth/approle"): create (random or
 * custom), list by accessor, lookup and destroy by secret_id or by accessor. The route table is in
 * approle.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "identity/approle/approle_int.h"
#include "identity/auth_role.h"
#include "cidr.h"
#include "json.h"
#include "duration.h"
#include "secmem.h"

/* RFC 3339 in UTC; Go's zero time for 0 (never), as Vault prints it. */
static json_t *approle_time_json(int64_t t)
{
	char buf[COFFER_TIME_LEN];

	if (t == 0)
		return json_string("0001-01-01T00:00:00Z");
	coffer_time_format(t, 0, 0, buf);
	return json_string(buf);
}

/* metadata: a JSON string holding an object of strings (hvac), or such an object, or null. */
static int approle_metadata(const json_t *body, json_t **out)
{
	const json_t *v = json_object_get(body, "metadata");
	json_t *md = NULL;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		md = json_object();
	else if (json_is_string(v))
		md = json_loads(json_string_value(v), 0, NULL);
	else
		md = json_deep_copy(v);
	if (!coffer_json_is_string_map(md)) {
		json_decref(md);
		return COFFER_ERR_INVALID;
	}
	*out = md;
	return 0;
}

/* The TTL and use count of a new secret_id: the body's, bounded by the role's. */
static const char *approle_secret_limits(const json_t *body, const json_t *role, int64_t *ttl_s,
                                         int64_t *uses)
{
	int64_t role_ttl = approle_int(role, "secret_id_ttl");
	int64_t role_uses = approle_int(role, "secret_id_num_uses");
	int rc;

	*ttl_s = role_ttl;
	*uses = role_uses;
	rc = coffer_json_get_duration(body, "ttl", ttl_s);
	if (rc == COFFER_ERR_INVALID || *ttl_s < 0)
		return "ttl must be a duration";
	if (rc == 0 && role_ttl > 0 && (*ttl_s == 0 || *ttl_s > role_ttl))
		return "ttl cannot be longer than the role's secret_id_ttl";
	rc = coffer_json_get_int(body, "num_uses", uses);
	if (rc == COFFER_ERR_INVALID || *uses < 0)
		return "num_uses must be a non-negative integer";
	if (rc == 0 && role_uses > 0 && (*uses == 0 || *uses > role_uses))
		return "num_uses cannot be higher than the role's secret_id_num_uses";
	return NULL;
}

/* The stored entry of a new secret_id (without its accessor), or NULL after a 400. */
static json_t *approle_secret_entry(const struct request *req, const json_t *role,
                                    struct response *resp)
{
	json_t *md = NULL, *cidrs = NULL, *tcidrs = NULL;
	int64_t ttl_s, uses, now = coffer_clock_now_s();
	const char *msg = approle_secret_limits(req->body, role, &ttl_s, &uses);

	if (msg == NULL && approle_metadata(req->body, &md) != 0)
		msg = "metadata must be a JSON object of strings";
	if (msg == NULL &&
	    (coffer_json_get_string_list(req->body, "cidr_list", &cidrs) == COFFER_ERR_INVALID ||
	     cidr_list_validate(cidrs) != 0))
		msg = "cidr_list must be a list of CIDR blocks";
	if (msg == NULL && (coffer_json_get_string_list(req->body, "token_bound_cidrs", &tcidrs) ==
	                        COFFER_ERR_INVALID ||
	                    cidr_list_validate(tcidrs) != 0))
		msg = "token_bound_cidrs must be a list of CIDR blocks";
	if (msg != NULL) {
		json_decref(md);
		json_decref(cidrs);
		json_decref(tcidrs);
		response_invalid(resp, "%s", msg);
		return NULL;
	}
	return json_pack("{s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I}", "metadata", md, "cidr_list",
	                 cidrs != NULL ? cidrs : json_array(), "token_bound_cidrs",
	                 tcidrs != NULL ? tcidrs : json_array(), "creation_time", (json_int_t)now,
	                 "expiration_time", (json_int_t)(ttl_s > 0 ? now + ttl_s : 0),
	                 "last_updated_time", (json_int_t)now, "secret_id_num_uses",
	                 (json_int_t)uses, "secret_id_ttl", (json_int_t)ttl_s);
}

/* POST role/:r/secret-id and role/:r/custom-secret-id. */
static void approle_secret_create(const struct engine_ctx *ctx, struct request *req,
                                  struct response *resp, bool is_custom)
{
	const char *name, *custom = NULL;
	json_t *role = approle_role_or_error(ctx, req, resp, &name), *entry = NULL;
	char secret[37], hex[APPROLE_HEX_LEN];
	const char *sid = secret;
	int rc;

	if (role == NULL)
		return;
	if (!json_is_true(json_object_get(role, "bind_secret_id"))) {
		response_invalid(resp, "bind_secret_id is not set on the role");
		goto out;
	}
	if (is_custom &&
	    (coffer_json_get_string(req->body, "secret_id", &custom) != 0 || custom[0] == '\0')) {
		response_invalid(resp, "missing secret_id");
		goto out;
	}
	entry = approle_secret_entry(req, role, resp);
	if (entry == NULL)
		goto out;
	coffer_uuid(secret);
	if (is_custom)
		sid = custom;
	rc = approle_hash_hex(ctx, APPROLE_SECRET_ID_LABEL, sid, hex);
	if (rc == 0)
		rc = approle_secret_store(ctx, name, hex, entry);
	if (rc == COFFER_ERR_EXISTS)
		response_invalid(resp, "SecretID is already registered");
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_envelope(
		    resp, req,
		    json_pack("{s:s,s:O,s:O,s:O}", "secret_id", sid, "secret_id_accessor",
		              json_object_get(entry, "secret_id_accessor"), "secret_id_ttl",
		              json_object_get(entry, "secret_id_ttl"), "secret_id_num_uses",
		              json_object_get(entry, "secret_id_num_uses")),
		    NULL, NULL);
out:
	secmem_wipe(secret, sizeof(secret));
	json_decref(entry);
	json_decref(role);
}

/* LIST role/:r/secret-id: the accessors. */
static void approle_secret_list(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	const char *name;
	json_t *role = approle_role_or_error(ctx, req, resp, &name), *arr = NULL, *entry;
	char **keys = NULL;
	size_t i, n = 0;
	int rc;

	if (role == NULL)
		return;
	json_decref(role);
	rc = approle_secret_hexes(ctx, name, &keys, &n);
	arr = rc == 0 ? json_array() : NULL;
	for (i = 0; arr != NULL && i < n; i++) {
		if (approle_secret_load(ctx, name, keys[i], &entry) == 0)
			json_array_append(arr, json_object_get(entry, "secret_id_accessor"));
		json_decref(entry);
	}
	barrier_list_free(keys, n);
	if (rc != 0)
		response_err(resp, rc);
	else if (json_array_size(arr) == 0)
		response_not_found(resp);
	else
		response_envelope(resp, req, json_pack("{s:O}", "keys", arr), NULL, NULL);
	json_decref(arr);
}

void approle_secret_id(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->is_list || req->method == REQ_LIST)
		approle_secret_list(ctx, req, resp);
	else
		approle_secret_create(ctx, req, resp, false);
}

void approle_custom_secret_id(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp)
{
	approle_secret_create(ctx, req, resp, true);
}

/* The data of a lookup: the entry with its times in RFC 3339. */
static json_t *approle_secret_json(const json_t *entry)
{
	return json_pack("{s:O,s:o,s:o,s:o,s:O,s:O,s:O,s:O,s:O}", "cidr_list",
	                 json_object_get(entry, "cidr_list"), "creation_time",
	                 approle_time_json(approle_int(entry, "creation_time")), "expiration_time",
	                 approle_time_json(approle_int(entry, "expiration_time")),
	                 "last_updated_time",
	                 approle_time_json(approle_int(entry, "last_updated_time")), "metadata",
	                 json_object_get(entry, "metadata"), "secret_id_accessor",
	                 json_object_get(entry, "secret_id_accessor"), "secret_id_num_uses",
	                 json_object_get(entry, "secret_id_num_uses"), "secret_id_ttl",
	                 json_object_get(entry, "secret_id_ttl"), "token_bound_cidrs",
	                 json_object_get(entry, "token_bound_cidrs"));
}

/* The hash hex of the secret_id named by the body: by "secret_id", or through the accessor index
 * by "secret_id_accessor" (which must belong to role). 0, NOT_FOUND, or INVALID. */
static int approle_secret_target(const struct engine_ctx *ctx, const struct request *req,
                                 const char *role, bool by_accessor, char hex[APPROLE_HEX_LEN])
{
	const char *v = NULL, *owner;
	char key[APPROLE_KEY_MAX];
	json_t *idx = NULL;
	int rc;

	if (coffer_json_get_string(req->body, by_accessor ? "secret_id_accessor" : "secret_id",
	                           &v) != 0 ||
	    v[0] == '\0')
		return COFFER_ERR_INVALID;
	if (!by_accessor)
		return approle_hash_hex(ctx, APPROLE_SECRET_ID_LABEL, v, hex);
	if (strchr(v, '/') != NULL || strlen(v) > 64)
		return COFFER_ERR_NOT_FOUND;
	rc = approle_key(key, "secret-id-accessor/%s", v);
	if (rc == 0)
		rc = auth_json_get(ctx, key, &idx);
	owner = json_string_value(json_object_get(idx, "role_name"));
	v = json_string_value(json_object_get(idx, "secret_id_hmac"));
	if (rc == 0 && (owner == NULL || strcmp(owner, role) != 0 || v == NULL ||
	                strlen(v) != APPROLE_HEX_LEN - 1))
		rc = COFFER_ERR_NOT_FOUND;
	if (rc == 0)
		memcpy(hex, v, APPROLE_HEX_LEN);
	json_decref(idx);
	return rc;
}

/* secret-id/lookup|destroy and secret-id-accessor/lookup|destroy. */
static void approle_secret_op(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, bool by_accessor, bool is_destroy)
{
	const char *name;
	json_t *role = approle_role_or_error(ctx, req, resp, &name), *entry = NULL;
	char hex[APPROLE_HEX_LEN];
	int rc;

	if (role == NULL)
		return;
	json_decref(role);
	rc = approle_secret_target(ctx, req, name, by_accessor, hex);
	if (rc == COFFER_ERR_INVALID) {
		response_invalid(resp, "missing %s",
		                 by_accessor ? "secret_id_accessor" : "secret_id");
		return;
	}
	approle_lock();
	if (rc == 0)
		rc = approle_secret_load(ctx, name, hex, &entry);
	if (rc == 0 && is_destroy)
		rc = approle_secret_delete(ctx, name, hex, entry);
	approle_unlock();
	if (rc == COFFER_ERR_NOT_FOUND && is_destroy && !by_accessor)
		response_no_content(resp);
	else if (rc == COFFER_ERR_NOT_FOUND && by_accessor)
		response_fail(resp, COFFER_ERR_NOT_FOUND,
		              "failed to find accessor entry for secret_id_accessor");
	else if (rc == 0 && !is_destroy && approle_secret_is_expired(entry, coffer_clock_now_s()))
		response_not_found(resp);
	else if (rc != 0)
		response_err(resp, rc);
	else if (is_destroy)
		response_no_content(resp);
	else
		response_envelope(resp, req, approle_secret_json(entry), NULL, NULL);
	json_decref(entry);
}

void approle_secret_lookup(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	approle_secret_op(ctx, req, resp, false, false);
}

void approle_secret_destroy(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	approle_secret_op(ctx, req, resp, false, true);
}

void approle_accessor_lookup(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	approle_secret_op(ctx, req, resp, true, false);
}

void approle_accessor_destroy(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp)
{
	approle_secret_op(ctx, req, resp, true, true);
}
