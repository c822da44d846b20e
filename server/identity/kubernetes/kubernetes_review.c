/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes_review.c: the TokenReview call (authentication.k8s.io/v1) and the pod's own
 * service-account files. The reviewer's bearer is token_reviewer_jwt, else the pod's token file
 * (read again as soon as the kubelet replaces it, because projected tokens expire: Vault users'
 * most reported failure is a copied reviewer token that stopped working after an hour), else the
 * login token itself. The CA is kubernetes_ca_cert, else the pod's ca.crt, else the system's.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "identity/kubernetes/kubernetes_int.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "net/outbound.h"
#include "secmem.h"
#include "xmalloc.h"

#define K8S_FILE_MAX (64 * 1024)

/*
 * A file of the pod's service-account folder, read again whenever it is not the file read last:
 * another inode, size or modification time (the kubelet swaps the folder's "..data" link when it
 * rotates the token, about every 48 minutes for a one-hour token). One stat() per login.
 */
struct k8s_file {
	const char *name; /* "token", "ca.crt" */
	pthread_mutex_t mu;
	char *text; /* secmem; NULL when absent */
	struct stat seen;
	bool has_seen;
};

static struct k8s_file k8s_token_file = {"token", PTHREAD_MUTEX_INITIALIZER, NULL, {0}, false};
static struct k8s_file k8s_ca_file = {"ca.crt", PTHREAD_MUTEX_INITIALIZER, NULL, {0}, false};

static bool k8s_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The file's text (secmem_strdup'd for the caller), NULL when absent or empty. */
static char *k8s_file_get(const struct engine_ctx *ctx, struct k8s_file *f)
{
	const char *dir = ctx->settings != NULL ? ctx->settings->kubernetes_sa_dir : NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	char path[4096], err[256];
	struct stat st;
	char *out = NULL;

	if (dir == NULL || dir[0] == '\0')
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	pthread_mutex_lock(&f->mu);
	if (stat(path, &st) != 0) {
		secmem_free(f->text);
		f->text = NULL;
		f->has_seen = false;
	} else if (!f->has_seen || !k8s_same_file(&st, &f->seen)) {
		secmem_free(f->text);
		f->text = NULL;
		if (coffer_read_secret_file(path, 1, K8S_FILE_MAX, COFFER_SECRET_FILE_ANY_MODE,
		                            &data, &len, err, sizeof(err)) == 0) {
			while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
			                   data[len - 1] == ' '))
				data[--len] = '\0';
			f->text = len > 0 ? secmem_strdup((const char *)data) : NULL;
			secmem_free(data);
		} else {
			log_warn("kubernetes auth: %s", err);
		}
		f->seen = st;
		f->has_seen = true;
	}
	if (f->text != NULL)
		out = secmem_strdup(f->text);
	pthread_mutex_unlock(&f->mu);
	return out;
}

int k8s_refuse(struct k8s_refusal *why, const char *check, const char *fmt, ...)
{
	va_list ap;

	why->check = check;
	why->err = COFFER_ERR_PERMISSION;
	va_start(ap, fmt);
	vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
	va_end(ap);
	return COFFER_ERR_PERMISSION;
}

/* <host>/apis/authentication.k8s.io/v1/tokenreviews; a host without a scheme gets https://. */
static char *k8s_review_url(const char *host)
{
	size_t n = strlen(host);
	char *url = NULL;

	while (n > 0 && host[n - 1] == '/')
		n--;
	xasprintf(&url, "%s%.*s/apis/authentication.k8s.io/v1/tokenreviews",
	          strstr(host, "://") == NULL ? "https://" : "", (int)n, host);
	return url;
}

/* Whether the review's answer (status) names the token's service account. */
static int k8s_review_check(const json_t *status, const json_t *audiences,
                            const struct k8s_identity *id, struct k8s_refusal *why)
{
	const json_t *user = json_object_get(status, "user"), *got, *a, *b;
	const char *err = json_string_value(json_object_get(status, "error"));
	const char *username = json_string_value(json_object_get(user, "username"));
	const char *uid = json_string_value(json_object_get(user, "uid"));
	char want[512];
	size_t i, j;
	bool shared = false;

	if (err != NULL && err[0] != '\0')
		return k8s_refuse(why, "review refused", "the API server says: %.180s", err);
	if (!json_is_true(json_object_get(status, "authenticated")))
		return k8s_refuse(why, "review refused",
		                  "the API server does not authenticate the "
		                  "token (deleted pod or service account?)");
	got = json_object_get(status, "audiences");
	if (json_array_size(audiences) > 0 && got != NULL) {
		json_array_foreach(audiences, i, a) json_array_foreach(got, j, b) shared |=
		    json_equal(a, b);
		if (!shared)
			return k8s_refuse(why, "review refused",
			                  "the review's audiences do not include the role's");
	}
	snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", id->namespace, id->name);
	if (username == NULL || strcmp(username, want) != 0)
		return k8s_refuse(why, "review refused",
		                  "the review names user \"%.100s\", the token \"%.100s\"",
		                  username != NULL ? username : "", want);
	if (id->uid[0] != '\0' && (uid == NULL || strcmp(uid, id->uid) != 0))
		return k8s_refuse(why, "review refused",
		                  "the review's service account uid differs from the token's");
	return 0;
}

int k8s_review(const struct engine_ctx *ctx, const json_t *config, const char *jwt,
               const json_t *audiences, const struct k8s_identity *id, struct k8s_refusal *why)
{
	const char *ca = json_string_value(json_object_get(config, "kubernetes_ca_cert"));
	const char *bearer = json_string_value(json_object_get(config, "token_reviewer_jwt"));
	bool local = !json_is_true(json_object_get(config, "disable_local_ca_jwt"));
	char *ca_file = NULL, *token_file = NULL, *url, detail[256];
	struct outbound_request rq = {.method = "POST"};
	json_t *body, *answer = NULL;
	long status = 0;
	int rc;

	if (local && (ca == NULL || ca[0] == '\0'))
		ca = ca_file = k8s_file_get(ctx, &k8s_ca_file);
	if (local && (bearer == NULL || bearer[0] == '\0'))
		bearer = token_file = k8s_file_get(ctx, &k8s_token_file);
	if (bearer == NULL || bearer[0] == '\0')
		bearer = jwt;
	url = k8s_review_url(json_string_value(json_object_get(config, "kubernetes_host")));
	body = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
	                 "TokenReview", "spec", "token", jwt);
	if (json_array_size(audiences) > 0)
		json_object_set(json_object_get(body, "spec"), "audiences", (json_t *)audiences);
	rq.url = url;
	rq.ca_pem = ca;
	rq.bearer = bearer;
	rq.body = body;
	rc = outbound_json(&rq, &status, &answer, detail, sizeof(detail));
	if (rc == COFFER_ERR_LIMIT) {
		k8s_refuse(why, "API server busy", "%s", detail);
		why->err = rc;
	} else if (rc != 0) {
		rc = k8s_refuse(why, "API server unreachable", "%s", detail);
	} else if (status == 401 || status == 403)
		rc =
		    k8s_refuse(why, "review refused",
		               "the API server answered %ld to the reviewer's credentials (%s): it "
		               "needs a valid token allowed to create tokenreviews "
		               "(system:auth-delegator)",
		               status,
		               bearer == jwt        ? "the login token"
		               : token_file != NULL ? "the pod's service-account token"
		                                    : "token_reviewer_jwt");
	else if (status != 200 && status != 201)
		rc = k8s_refuse(why, "review refused", "the API server answered %ld", status);
	else
		rc = k8s_review_check(json_object_get(answer, "status"), audiences, id, why);
	json_decref(answer);
	json_decref(body);
	free(url);
	secmem_free(ca_file);
	secmem_free(token_file);
	return rc;
}
