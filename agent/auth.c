/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c: the agent's identity: credentials read from files before the sandbox is on (a token
 * file, or an AppRole role_id and secret_id) or at each login (a Kubernetes or other JWT), login,
 * and token renewal. Every credential lives in secmem and is wiped by auth_clear(); a JWT only
 * for the length of its login.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "http_client.h"
#include "log.h"
#include "secmem.h"

/* Ids and tokens are short; a JWT with many claims (groups) can pass 4 KiB. */
#define AUTH_FILE_MAX 16384

char *auth_read_file(const char *path, unsigned flags, char *err, size_t err_len)
{
	uint8_t *buf = NULL;
	size_t len;

	if (coffer_read_secret_file(path, 0, AUTH_FILE_MAX, flags, &buf, &len, err, err_len) != 0)
		return NULL;
	if (err[0] != '\0') {
		log_warn("%s", err);
		err[0] = '\0';
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	                   buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0 || strlen((char *)buf) != len) {
		snprintf(err, err_len, "%s: empty or not text", path);
		secmem_free(buf);
		return NULL;
	}
	return (char *)buf;
}

void auth_clear(struct agent_auth *a)
{
	secmem_free(a->token);
	secmem_free(a->role_id);
	secmem_free(a->secret_id);
	memset(a, 0, sizeof(*a));
}

int auth_load(const struct agent_config *cfg, struct agent_auth *a, char *err, size_t err_len)
{
	memset(a, 0, sizeof(*a));
	if (cfg->auth_method == AGENT_AUTH_TOKEN_FILE) {
		a->token = auth_read_file(cfg->token_path, 0, err, err_len);
		return a->token == NULL ? COFFER_ERR_CONFIG : 0;
	}
	if (cfg->auth_method != AGENT_AUTH_APPROLE)
		return 0; /* kubernetes, jwt: read at each login */
	a->role_id = auth_read_file(cfg->role_id_file, 0, err, err_len);
	if (a->role_id == NULL)
		return COFFER_ERR_CONFIG;
	a->secret_id = auth_read_file(cfg->secret_id_file, 0, err, err_len);
	if (a->secret_id == NULL) {
		auth_clear(a);
		return COFFER_ERR_CONFIG;
	}
	/* A secret_id is single-use in spirit: take it off the disk once it is in memory. */
	if (cfg->remove_secret_id_file && unlink(cfg->secret_id_file) != 0)
		log_warn("cannot remove %s: %s", cfg->secret_id_file, strerror(errno));
	return 0;
}

/* The first error message of an answer, or a generic one. */
static void auth_answer_error(const json_t *resp, long status, const char *what, char *err,
                              size_t err_len)
{
	const char *msg = json_string_value(json_array_get(json_object_get(resp, "errors"), 0));

	snprintf(err, err_len, "%s: HTTP %ld: %.200s", what, status, msg ? msg : "no message");
}

/* Take the token and TTL from an answer's auth block. */
static int auth_take(const json_t *resp, struct agent_auth *a, char *err, size_t err_len)
{
	const json_t *auth = json_object_get(resp, "auth");
	const char *token = json_string_value(json_object_get(auth, "client_token"));
	char *copy;

	if (token == NULL || token[0] == '\0') {
		snprintf(err, err_len, "login: no client_token in the answer");
		return COFFER_ERR_INVALID;
	}
	copy = secmem_strdup(token);
	if (copy == NULL) {
		snprintf(err, err_len, "out of memory");
		return COFFER_ERR_NOMEM;
	}
	secmem_free(a->token);
	a->token = copy;
	a->ttl_s = json_integer_value(json_object_get(auth, "lease_duration"));
	a->is_renewable = json_is_true(json_object_get(auth, "renewable"));
	return 0;
}

/* POST body to auth/<mount>/login and take the token; what names the login in messages. A
 * refusal (400, 403) is COFFER_ERR_PERMISSION with the server's message. */
static int auth_post_login(const struct agent_config *cfg, struct coffer_http *h,
                           const json_t *body, const char *what, struct agent_auth *a, char *err,
                           size_t err_len)
{
	json_t *resp = NULL;
	char path[512];
	long status;
	int rc;

	snprintf(path, sizeof(path), "auth/%s/login", cfg->auth_mount);
	rc = coffer_http_request(h, "POST", path, NULL, body, &status, &resp);
	if (rc != 0) {
		snprintf(err, err_len, "%s: %s", what, coffer_http_error(h));
	} else if (status != 200) {
		auth_answer_error(resp, status, what, err, err_len);
		rc = status == 400 || status == 403 ? COFFER_ERR_PERMISSION : COFFER_ERR_IO;
	} else {
		rc = auth_take(resp, a, err, err_len);
	}
	json_decref(resp);
	return rc;
}

static int auth_approle(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
                        char *err, size_t err_len)
{
	json_t *body;
	int rc;

	body = json_pack("{s:s,s:s}", "role_id", a->role_id, "secret_id", a->secret_id);
	if (body == NULL) {
		snprintf(err, err_len, "out of memory");
		return COFFER_ERR_NOMEM;
	}
	rc = auth_post_login(cfg, h, body, "AppRole login", a, err, err_len);
	json_decref(body);
	return rc;
}

/*
 * kubernetes and jwt: the token file is opened by path at every login, since its issuer replaces
 * it (the kubelet rotates a projected token by swapping a symlink), and its text lives only for
 * the request: the secmem copy is wiped once the body holds it, and the body (jansson's wiping
 * allocator) and the serialised request (http_client) are wiped when freed. Its mode is the
 * issuer's to set, not the agent's to judge (a projected token is 0644 unless the pod says
 * otherwise).
 */
static int auth_jwt(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
                    char *err, size_t err_len)
{
	const char *what =
	    cfg->auth_method == AGENT_AUTH_KUBERNETES ? "Kubernetes login" : "JWT login";
	char msg[AGENT_ERR_LEN];
	json_t *body = NULL;
	char *jwt;
	int rc;

	jwt = auth_read_file(cfg->jwt_file, COFFER_SECRET_FILE_ANY_MODE, msg, sizeof(msg));
	if (jwt == NULL) {
		snprintf(err, err_len, "%s: %s", what, msg);
		return COFFER_ERR_CONFIG;
	}
	body = json_pack("{s:s}", "jwt", jwt);
	secmem_free(jwt);
	if (body == NULL || (cfg->auth_role != NULL &&
	                     json_object_set_new(body, "role", json_string(cfg->auth_role)) != 0)) {
		json_decref(body);
		snprintf(err, err_len, "out of memory");
		return COFFER_ERR_NOMEM;
	}
	rc = auth_post_login(cfg, h, body, what, a, err, err_len);
	json_decref(body);
	return rc;
}

static int auth_lookup_self(struct coffer_http *h, struct agent_auth *a, char *err, size_t err_len)
{
	json_t *resp = NULL, *data;
	long status;
	int rc;

	rc =
	    coffer_http_request(h, "GET", "auth/token/lookup-self", a->token, NULL, &status, &resp);
	if (rc != 0) {
		snprintf(err, err_len, "token lookup: %s", coffer_http_error(h));
	} else if (status != 200) {
		auth_answer_error(resp, status, "token lookup", err, err_len);
		rc = status == 403 ? COFFER_ERR_PERMISSION : COFFER_ERR_IO;
	} else {
		data = json_object_get(resp, "data");
		a->ttl_s = json_integer_value(json_object_get(data, "ttl"));
		a->is_renewable = json_is_true(json_object_get(data, "renewable"));
	}
	json_decref(resp);
	return rc;
}

int auth_login(const struct agent_config *cfg, struct coffer_http *h, struct agent_auth *a,
               char *err, size_t err_len)
{
	char *token;

	if (cfg->auth_method == AGENT_AUTH_APPROLE)
		return auth_approle(cfg, h, a, err, err_len);
	if (cfg->auth_method == AGENT_AUTH_KUBERNETES || cfg->auth_method == AGENT_AUTH_JWT)
		return auth_jwt(cfg, h, a, err, err_len);
	/* A token file may be refreshed by someone else: read it again on a second login. */
	if (a->token == NULL) {
		token = auth_read_file(cfg->token_path, 0, err, err_len);
		if (token == NULL)
			return COFFER_ERR_CONFIG;
		a->token = token;
	}
	return auth_lookup_self(h, a, err, err_len);
}

int auth_renew(struct coffer_http *h, struct agent_auth *a, char *err, size_t err_len)
{
	json_t *body = json_object(), *resp = NULL;
	long status;
	int rc;

	if (body == NULL) {
		snprintf(err, err_len, "out of memory");
		return COFFER_ERR_NOMEM;
	}
	rc =
	    coffer_http_request(h, "POST", "auth/token/renew-self", a->token, body, &status, &resp);
	json_decref(body);
	if (rc != 0) {
		snprintf(err, err_len, "token renewal: %s", coffer_http_error(h));
	} else if (status != 200) {
		auth_answer_error(resp, status, "token renewal", err, err_len);
		rc = status == 403 || status == 400 ? COFFER_ERR_PERMISSION : COFFER_ERR_IO;
	} else {
		rc = auth_take(resp, a, err, err_len);
	}
	json_decref(resp);
	return rc;
}
