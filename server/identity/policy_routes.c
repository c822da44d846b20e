/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_routes.c: the sys/ routes of policies and capabilities (API.md): sys/policy (legacy
 * bodies), sys/policies/acl (enveloped), sys/capabilities-self, sys/capabilities and
 * sys/capabilities-accessor. Registered by router.c; the policy store does the work.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "api/tables.h"
#include "json.h"
#include "log.h"
#include "identity/policy.h"
#include "identity/token.h"
#include "xmalloc.h"

static void policy_route_list(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp)
{
	json_t *names = NULL;
	int err;

	err = policy_store_list(ctx->policies, &names);
	if (err != 0) {
		response_err(resp, err);
		return;
	}
	if (req->is_list || req->method == REQ_LIST)
		response_envelope(resp, req, json_pack("{s:o}", "keys", names), NULL, NULL);
	else
		response_legacy(resp, req,
		                json_pack("{s:O,s:o}", "policies", names, "keys", names));
}

static void policy_route_read(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, bool is_legacy)
{
	const char *param = request_param(req, "name");
	char name[POLICY_NAME_MAX + 1];
	char *raw = NULL;
	int err;

	if (param == NULL || policy_name_normalize(param, name) != 0) {
		response_not_found(resp);
		return;
	}
	err = policy_store_get(ctx->policies, name, &raw);
	if (err == COFFER_ERR_NOT_FOUND) {
		response_not_found(resp);
	} else if (err != 0) {
		response_err(resp, err);
	} else if (is_legacy) {
		response_legacy(resp, req, json_pack("{s:s,s:s}", "name", name, "rules", raw));
	} else {
		response_envelope(resp, req, json_pack("{s:s,s:s}", "name", name, "policy", raw),
		                  NULL, NULL);
	}
	free(raw);
}

/* Vault accepts the policy text base64-encoded too; decoded text is used when it decodes. */
static char *policy_route_decode(const char *text, size_t *len)
{
	size_t in_len = strlen(text), out_len = 0;
	uint8_t *out;

	if (in_len == 0 || strpbrk(text, "{\"# \n") != NULL)
		return NULL;
	out = xmalloc(in_len + 1);
	if (codec_b64_decode(out, in_len, &out_len, text, in_len, CODEC_B64_STD) != 0 ||
	    memchr(out, '\0', out_len) != NULL) {
		free(out);
		return NULL;
	}
	out[out_len] = '\0';
	*len = out_len;
	return (char *)out;
}

/* Answer a policy write or delete by its result rc: 204 (logged as verb), 400 with the store's
 * message err, or the error. */
static void policy_route_done(const struct request *req, struct response *resp, int rc,
                              const char *err, const char *verb)
{
	if (rc == COFFER_ERR_INVALID) {
		response_invalid(resp, "%s", err);
		return;
	}
	if (rc != 0) {
		response_err(resp, rc);
		return;
	}
	log_info("policy %s %s by request %s", request_param(req, "name"), verb, req->request_id);
	response_no_content(resp);
}

static void policy_route_write(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	const char *text = NULL;
	char *decoded, err[512];
	size_t len;
	int rc;

	/* "policy", or the legacy "rules" that node-vault sends. */
	if (coffer_json_get_string(req->body, "policy", &text) != 0 || text[0] == '\0')
		text = NULL;
	if (text == NULL &&
	    (coffer_json_get_string(req->body, "rules", &text) != 0 || text[0] == '\0'))
		text = NULL;
	if (text == NULL) {
		response_invalid(resp, "'policy' parameter not supplied or empty");
		return;
	}
	len = strlen(text);
	decoded = policy_route_decode(text, &len);
	rc = policy_store_put(ctx->policies, request_param(req, "name"),
	                      decoded != NULL ? decoded : text, len, err, sizeof(err));
	free(decoded);
	policy_route_done(req, resp, rc, err, "written");
}

static void policy_route_delete(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	char err[256];
	int rc;

	rc = policy_store_delete(ctx->policies, request_param(req, "name"), err, sizeof(err));
	policy_route_done(req, resp, rc, err, "deleted");
}

static void policy_route_one(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp, bool is_legacy)
{
	if (req->method == REQ_GET)
		policy_route_read(ctx, req, resp, is_legacy);
	else if (req->method == REQ_DELETE)
		policy_route_delete(ctx, req, resp);
	else
		policy_route_write(ctx, req, resp);
}

static void policy_route_legacy(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	policy_route_one(ctx, req, resp, true);
}

static void policy_route_acl(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	policy_route_one(ctx, req, resp, false);
}

/* {path: [caps], ..., capabilities: [caps of the first path]} for acl (NULL denies all). */
static void policy_route_caps(struct request *req, struct response *resp, const struct acl *acl)
{
	char path[PATH_MAX_LEN + 1];
	json_t *paths = NULL, *data = NULL, *v, *caps;
	size_t i;
	int rc;

	rc = coffer_json_get_string_list(req->body, "paths", &paths);
	if (rc == COFFER_ERR_NOT_FOUND)
		rc = coffer_json_get_string_list(req->body, "path", &paths);
	if (rc != 0 || json_array_size(paths) == 0) {
		response_invalid(resp, "missing paths");
		goto out;
	}
	data = json_object();
	json_array_foreach(paths, i, v)
	{
		const char *p = json_string_value(v);

		if (path_normalize(p, strlen(p), path, sizeof(path)) != 0) {
			response_invalid(resp, "invalid path \"%.200s\"", p);
			goto out;
		}
		if (acl_is_root(acl))
			caps = json_pack("[s]", "root");
		else
			caps = acl_capabilities_json(acl_capabilities(acl, path));
		if (i == 0)
			json_object_set(data, "capabilities", caps);
		json_object_set_new(data, p, caps);
	}
	response_legacy(resp, req, data);
	data = NULL;
out:
	json_decref(data);
	json_decref(paths);
}

static void policy_route_caps_self(const struct engine_ctx *ctx, struct request *req,
                                   struct response *resp)
{
	(void)ctx;
	policy_route_caps(req, resp, req->acl);
}

/* sys/capabilities {token} and sys/capabilities-accessor {accessor}. */
static void policy_route_caps_other(const struct engine_ctx *ctx, struct request *req,
                                    struct response *resp, bool is_accessor)
{
	const char *key = is_accessor ? "accessor" : "token";
	struct token_entry *e = NULL;
	struct acl *acl = NULL;
	const char *value = NULL;
	int rc;

	if (coffer_json_get_string(req->body, key, &value) != 0 || value[0] == '\0') {
		response_invalid(resp, "missing %s", key);
		return;
	}
	rc = is_accessor ? token_lookup_accessor(ctx->tokens, value, &e)
	                 : token_lookup(ctx->tokens, value, &e);
	if (rc == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "invalid %s", key);
		return;
	}
	if (rc == 0)
		rc = policy_store_acl(ctx->policies, e->policies, &acl);
	if (rc != 0)
		response_err(resp, rc);
	else
		policy_route_caps(req, resp, acl);
	acl_release(acl);
	token_entry_release(e);
}

static void policy_route_caps_token(const struct engine_ctx *ctx, struct request *req,
                                    struct response *resp)
{
	policy_route_caps_other(ctx, req, resp, false);
}

static void policy_route_caps_accessor(const struct engine_ctx *ctx, struct request *req,
                                       struct response *resp)
{
	policy_route_caps_other(ctx, req, resp, true);
}

const struct route policy_routes[] = {
    {"sys/policy", REQ_M(REQ_GET), 0, policy_route_list, NULL},
    {"sys/policy/:name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_FOLD,
     policy_route_legacy, NULL},
    {"sys/policies/acl", REQ_M(REQ_LIST), 0, policy_route_list, NULL},
    {"sys/policies/acl/:name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), ROUTE_FOLD,
     policy_route_acl, NULL},
    {"sys/capabilities-self", REQ_M_WRITE, 0, policy_route_caps_self, NULL},
    {"sys/capabilities", REQ_M_WRITE, 0, policy_route_caps_token, NULL},
    {"sys/capabilities-accessor", REQ_M_WRITE, 0, policy_route_caps_accessor, NULL},
};
const size_t policy_routes_len = sizeof(policy_routes) / sizeof(policy_routes[0]);
