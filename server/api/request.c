/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c: responses in the shapes of API.md ("Responses") and the one table that turns an
 * error code into an HTTP status. Used by the router and every route handler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "api/request.h"
#include "secmem.h"
#include "xmalloc.h"

int request_status_for(int err)
{
	switch (err) {
	case COFFER_OK:
		return 200;
	case COFFER_ERR_INVALID:
	case COFFER_ERR_EXISTS:
	case COFFER_ERR_BAD_SHARE:
	case COFFER_ERR_CAS:
		return 400;
	case COFFER_ERR_PERMISSION:
		return 403;
	case COFFER_ERR_NOT_FOUND:
	case COFFER_ERR_UNSUPPORTED:
		return 404;
	case COFFER_ERR_METHOD:
		return 405;
	case COFFER_ERR_TOO_LARGE:
		return 413;
	case COFFER_ERR_MEDIA_TYPE:
		return 415;
	case COFFER_ERR_LIMIT:
		return 429;
	case COFFER_ERR_HEADERS_LARGE:
		return 431;
	case COFFER_ERR_UNINIT:
		return 501;
	case COFFER_ERR_SEALED:
	case COFFER_ERR_UNAVAILABLE:
	case COFFER_ERR_STANDBY:
		return 503;
	default:
		return 500;
	}
}

void response_clear(struct response *resp)
{
	json_decref(resp->json);
	resp->json = NULL;
	if (resp->text != NULL)
		secmem_freezero(resp->text, strlen(resp->text));
	resp->text = NULL;
	resp->content_type = NULL;
	free(resp->location);
	resp->location = NULL;
}

void response_raw(struct response *resp, int status, json_t *body)
{
	response_clear(resp);
	resp->status = status;
	resp->json = body;
}

void response_no_content(struct response *resp)
{
	response_clear(resp);
	resp->status = 204;
}

void response_redirect(struct response *resp, const char *location)
{
	response_clear(resp);
	resp->status = 307;
	resp->location = xstrdup(location);
}

static void response_vfail(struct response *resp, int err, const char *fmt, va_list ap)
{
	char msg[512];
	json_t *errors;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	errors = json_array();
	json_array_append_new(errors, json_string(msg));
	response_raw(resp, request_status_for(err), json_pack("{s:o}", "errors", errors));
}

void response_fail(struct response *resp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	response_vfail(resp, err, fmt, ap);
	va_end(ap);
}

void response_invalid(struct response *resp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	response_vfail(resp, COFFER_ERR_INVALID, fmt, ap);
	va_end(ap);
}

void response_err(struct response *resp, int err)
{
	const char *msg = coffer_strerror(err);

	/* Vault's wording, which clients and operators grep for. */
	if (err == COFFER_ERR_SEALED)
		msg = "Vault is sealed";
	else if (err == COFFER_ERR_PERMISSION)
		msg = "permission denied";
	else if (err == COFFER_ERR_UNINIT)
		msg = "Vault is not initialized";
	response_fail(resp, err, "%s", msg);
}

void response_not_found(struct response *resp)
{
	response_raw(resp, 404, json_pack("{s:[]}", "errors"));
}

void response_envelope(struct response *resp, const struct request *req, json_t *data, json_t *auth,
                       json_t *warnings)
{
	json_t *env;

	/* Key order matters to some clients' tests and to humans: as in API.md. */
	env = json_object();
	json_object_set_new(env, "request_id", json_string(req->request_id));
	json_object_set_new(env, "lease_id", json_string(""));
	json_object_set_new(env, "renewable", json_false());
	json_object_set_new(env, "lease_duration", json_integer(0));
	json_object_set_new(env, "data", data != NULL ? data : json_null());
	json_object_set_new(env, "wrap_info", json_null());
	json_object_set_new(env, "warnings", warnings != NULL ? warnings : json_null());
	json_object_set_new(env, "auth", auth != NULL ? auth : json_null());
	response_raw(resp, 200, env);
}

void response_envelope_text(struct response *resp, const struct request *req, char *data_text)
{
	static const char head[] = "{\"request_id\":\"";
	static const char mid[] = "\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
	                          "\"data\":";
	static const char tail[] = ",\"wrap_info\":null,\"warnings\":null,\"auth\":null}";
	size_t id_len = strlen(req->request_id), data_len = strlen(data_text);
	char *out, *p;

	/* The same bytes response_envelope() would give, without parsing data_text again. */
	out = xmalloc(sizeof(head) + id_len + sizeof(mid) + data_len + sizeof(tail));
	p = out;
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memcpy(p, req->request_id, id_len);
	p += id_len;
	memcpy(p, mid, sizeof(mid) - 1);
	p += sizeof(mid) - 1;
	memcpy(p, data_text, data_len);
	p += data_len;
	memcpy(p, tail, sizeof(tail));
	secmem_freezero(data_text, data_len);
	response_clear(resp);
	resp->status = 200;
	resp->text = out;
}

void response_legacy(struct response *resp, const struct request *req, json_t *data)
{
	const char *key;
	json_t *value;
	json_t *top;

	json_incref(data);
	response_envelope(resp, req, data, NULL, NULL);
	top = resp->json;
	json_object_foreach(data, key, value)
	{
		/* Never let a data key shadow an envelope key. */
		if (json_object_get(top, key) == NULL)
			json_object_set(top, key, value);
	}
	json_decref(data);
}

int request_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
	size_t i;

	/* The set Go's strconv.ParseBool accepts, which is what Vault uses for ?list=. */
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return COFFER_ERR_INVALID;
}

const char *request_param(const struct request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_params; i++) {
		if (strcmp(req->param_names[i], name) == 0)
			return req->param_values[i];
	}
	return NULL;
}

int request_add_param(struct request *req, const char *name, const char *value, size_t len)
{
	size_t used = 0, name_len = strcspn(name, "/");

	/* A name runs to the end of its pattern segment: "role_name" of ":role_name/role-id". */
	if (req->n_params > 0) {
		const char *last = req->param_values[req->n_params - 1];

		used = (size_t)(last - req->param_buf) + strlen(last) + 1;
	}
	if (req->n_params == REQ_MAX_PARAMS ||
	    used + name_len + 1 + len + 1 > sizeof(req->param_buf))
		return COFFER_ERR_INVALID;
	memcpy(req->param_buf + used, name, name_len);
	req->param_buf[used + name_len] = '\0';
	req->param_names[req->n_params] = req->param_buf + used;
	used += name_len + 1;
	memcpy(req->param_buf + used, value, len);
	req->param_buf[used + len] = '\0';
	req->param_values[req->n_params++] = req->param_buf + used;
	return 0;
}
