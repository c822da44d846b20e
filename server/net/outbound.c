/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbound.c: JSON requests to other servers over libcurl (outbound.h). One easy handle per
 * request: these are logins' and key refreshes' requests, not a hot path.
 */
#include "net/outbound.h"

#include <ctype.h>
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "secmem.h"
#include "xmalloc.h"

struct outbound_sink {
	char *buf; /* secmem */
	size_t len, cap;
	bool too_large;
};

/*
 * One share for every request: connections (a TokenReview reuses the API server's connection
 * instead of a new TCP and TLS handshake per login), TLS sessions and DNS answers. libcurl only
 * reuses a connection whose TLS settings (the CA included) equal the new request's.
 */
static CURLSH *outbound_share;
static int outbound_in_flight; /* atomic */
static pthread_mutex_t outbound_locks[CURL_LOCK_DATA_LAST];

static void outbound_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)c;
	(void)access;
	(void)arg;
	pthread_mutex_lock(&outbound_locks[data]);
}

static void outbound_unlock(CURL *c, curl_lock_data data, void *arg)
{
	(void)c;
	(void)arg;
	pthread_mutex_unlock(&outbound_locks[data]);
}

void outbound_init(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	size_t i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&outbound_locks[i], NULL);
	outbound_share = curl_share_init();
	if (outbound_share != NULL) {
		curl_share_setopt(outbound_share, CURLSHOPT_LOCKFUNC, outbound_lock);
		curl_share_setopt(outbound_share, CURLSHOPT_UNLOCKFUNC, outbound_unlock);
		curl_share_setopt(outbound_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(outbound_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
		curl_share_setopt(outbound_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	}
	if (getaddrinfo("localhost", "443", &hints, &res) == 0)
		freeaddrinfo(res);
}

static size_t outbound_write(char *data, size_t size, size_t n, void *arg)
{
	struct outbound_sink *s = arg;
	size_t len = size * n, cap;
	char *grown;

	if (len > OUTBOUND_MAX_BODY - s->len) {
		s->too_large = true;
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		cap = s->cap == 0 ? 4096 : s->cap;
		while (cap < s->len + len + 1)
			cap *= 2;
		grown = secmem_alloc(cap);
		if (s->len > 0)
			memcpy(grown, s->buf, s->len);
		secmem_free(s->buf);
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

/* Cache-Control of the answer: max-age=N, or 0 for no-cache and no-store (RFC 9111 5.2.2). */
static size_t outbound_header(char *data, size_t size, size_t n, void *arg)
{
	static const char name[] = "cache-control:";
	size_t len = size * n, i;
	long *max_age = arg;
	char line[256];
	char *p;

	if (len < sizeof(name) || len >= sizeof(line) ||
	    strncasecmp(data, name, sizeof(name) - 1) != 0)
		return len;
	for (i = 0; i < len; i++)
		line[i] = (char)tolower((unsigned char)data[i]);
	line[len] = '\0';
	if (strstr(line, "no-store") != NULL || strstr(line, "no-cache") != NULL)
		*max_age = 0;
	else if ((p = strstr(line, "max-age=")) != NULL)
		*max_age = strtol(p + 8, NULL, 10);
	return len;
}

/* Wipe the strings of a header list, then free it (the bearer token is among them). */
static void outbound_headers_free(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		secmem_wipe(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

int outbound_json(const struct outbound_request *rq, long *status, json_t **out, char *why,
                  size_t cap)
{
	struct outbound_sink sink = {0};
	struct curl_blob ca = {0};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", *auth = NULL, *body = NULL;
	CURL *c;
	CURLcode cc;
	int rc = 0;

	*status = 0;
	*out = NULL;
	if (rq->url == NULL ||
	    (strncmp(rq->url, "https://", 8) != 0 && strncmp(rq->url, "http://", 7) != 0)) {
		coffer_errf(why, cap, "not an http(s) URL");
		return COFFER_ERR_INVALID;
	}
	if (__atomic_add_fetch(&outbound_in_flight, 1, __ATOMIC_ACQ_REL) > OUTBOUND_MAX_IN_FLIGHT) {
		__atomic_sub_fetch(&outbound_in_flight, 1, __ATOMIC_ACQ_REL);
		coffer_errf(why, cap,
		            "%d requests to other servers are already waiting for an answer; try "
		            "again shortly",
		            OUTBOUND_MAX_IN_FLIGHT);
		return COFFER_ERR_LIMIT;
	}
	c = curl_easy_init();
	if (c == NULL) {
		__atomic_sub_fetch(&outbound_in_flight, 1, __ATOMIC_ACQ_REL);
		coffer_errf(why, cap, "libcurl cannot start a request");
		return COFFER_ERR_IO;
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	if (rq->body != NULL) {
		body = coffer_json_dump(rq->body);
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (rq->bearer != NULL && rq->bearer[0] != '\0') {
		xasprintf(&auth, "Authorization: Bearer %s", rq->bearer);
		headers = curl_slist_append(headers, auth);
		secmem_wipe(auth, strlen(auth));
		free(auth);
	}
	if (outbound_share != NULL)
		curl_easy_setopt(c, CURLOPT_SHARE, outbound_share);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->ca_pem != NULL && rq->ca_pem[0] != '\0') {
		ca.data = (void *)rq->ca_pem;
		ca.len = strlen(rq->ca_pem);
		ca.flags = CURL_BLOB_COPY;
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (rq->max_age_s != NULL) {
		*rq->max_age_s = -1;
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, outbound_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, rq->max_age_s);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, outbound_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (sink.too_large)
			coffer_errf(why, cap, "the answer is larger than %d bytes",
			            OUTBOUND_MAX_BODY);
		else
			coffer_errf(why, cap, "%s",
			            errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		rc = COFFER_ERR_IO;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (sink.len > 0)
			*out = json_loadb(sink.buf, sink.len, JSON_REJECT_DUPLICATES, NULL);
	}
	curl_easy_cleanup(c);
	__atomic_sub_fetch(&outbound_in_flight, 1, __ATOMIC_ACQ_REL);
	outbound_headers_free(headers);
	if (body != NULL)
		coffer_json_free_text(body);
	secmem_free(sink.buf);
	return rc;
}
