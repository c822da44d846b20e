/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.c: the libcurl client of http_client.h. Every buffer that may hold a secret (request
 * JSON, token header, response body) is wiped before it is released; the response buffer grows by
 * copy-and-wipe rather than realloc(), which could leave an unwiped copy behind.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_client.h"
#include "json.h"
#include "secmem.h"

#define HTTP_RESPONSE_MAX (64u << 20) /* a larger answer is refused, not buffered */

struct coffer_http {
	CURL *curl;
	char *addr; /* without a trailing '/' */
	char *ca_cert;
	long timeout_ms;
	char error[CURL_ERROR_SIZE + 64];
};

/* The response body as it arrives. */
struct http_buf {
	char *data;
	size_t len, cap;
	bool is_too_large;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void http_set_error(char *errbuf, size_t errbuf_len, const char *msg)
{
	if (errbuf != NULL && errbuf_len > 0)
		snprintf(errbuf, errbuf_len, "%s", msg);
}

struct coffer_http *coffer_http_new(const char *addr, const char *ca_cert, long timeout_ms,
                                    char *errbuf, size_t errbuf_len)
{
	struct coffer_http *h;
	size_t len;

	if (addr == NULL ||
	    (strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0)) {
		http_set_error(errbuf, errbuf_len,
		               "the address must start with http:// or https://");
		return NULL;
	}
	pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		http_set_error(errbuf, errbuf_len, "cannot initialise libcurl");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->addr = strdup(addr)) == NULL ||
	    (ca_cert != NULL && (h->ca_cert = strdup(ca_cert)) == NULL) ||
	    (h->curl = curl_easy_init()) == NULL) {
		http_set_error(errbuf, errbuf_len, "out of memory");
		coffer_http_free(h);
		return NULL;
	}
	len = strlen(h->addr);
	while (len > 0 && h->addr[len - 1] == '/')
		h->addr[--len] = '\0';
	h->timeout_ms = timeout_ms;
	return h;
}

void coffer_http_free(struct coffer_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	free(h->ca_cert);
	free(h->addr);
	free(h);
}

const char *coffer_http_error(const struct coffer_http *h)
{
	return h->error;
}

static bool http_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encode s[0..len); '/' is kept when is_path. */
static char *http_encode(const char *s, size_t len, bool is_path)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out, *o;
	size_t i;

	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0, o = out; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (http_is_unreserved(c) || (is_path && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *coffer_http_escape(const char *s)
{
	return http_encode(s, strlen(s), false);
}

/* addr + "/v1/" + the encoded path part + the query as given. NULL when memory runs out. */
static char *http_url(const struct coffer_http *h, const char *path)
{
	size_t path_len = strcspn(path, "?");
	char *enc, *url = NULL;

	while (path[0] == '/' && path_len > 0) {
		path++;
		path_len--;
	}
	enc = http_encode(path, path_len, true);
	if (enc != NULL && asprintf(&url, "%s/v1/%s%s", h->addr, enc, path + path_len) < 0)
		url = NULL;
	free(enc);
	return url;
}

/* libcurl's write callback: append to the http_buf, growing it by copy-and-wipe. */
static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_buf *b = userdata;
	size_t n = size * nmemb, cap;
	char *grown;

	if (n > HTTP_RESPONSE_MAX - b->len) {
		b->is_too_large = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = malloc(cap);
		if (grown == NULL)
			return 0;
		if (b->len > 0)
			memcpy(grown, b->data, b->len);
		secmem_freezero(b->data, b->cap);
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Wipe and free a header list: the token header holds the token. */
static void http_headers_free(struct curl_slist *headers)
{
	struct curl_slist *s;

	for (s = headers; s != NULL; s = s->next)
		secmem_wipe(s->data, strlen(s->data));
	curl_slist_free_all(headers);
}

/* The request headers: the token, and the content type when there is a body. */
static struct curl_slist *http_headers(const char *method, const char *token, bool has_body)
{
	struct curl_slist *headers = NULL, *next;
	char *line = NULL;
	int n;

	if (token != NULL) {
		n = asprintf(&line, "X-Vault-Token: %s", token);
		if (n < 0)
			return NULL;
		headers = curl_slist_append(NULL, line);
		secmem_freezero(line, (size_t)n);
		if (headers == NULL)
			return NULL;
	}
	if (has_body) {
		next = curl_slist_append(headers, strcmp(method, "PATCH") == 0
		                                      ? "Content-Type: application/merge-patch+json"
		                                      : "Content-Type: application/json");
		if (next == NULL) {
			http_headers_free(headers);
			return NULL;
		}
		headers = next;
	}
	return headers;
}

/* Set the options of one request on h->curl; body_text may be NULL. */
static CURLcode http_setup(struct coffer_http *h, const char *method, const char *url,
                           struct curl_slist *headers, const char *body_text, struct http_buf *b)
{
	CURL *c = h->curl;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(c);
	h->error[0] = '\0';
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (rc == CURLE_OK && strcmp(method, "HEAD") == 0)
		rc = curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK && body_text != NULL)
		rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_text);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
	if (rc == CURLE_OK && h->timeout_ms > 0)
		rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	if (rc == CURLE_OK && h->ca_cert != NULL)
		rc = curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_cert);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return rc;
}

/* Parse the answer into *out; an empty or non-JSON body leaves *out NULL. */
static void http_parse(const struct http_buf *b, json_t **out)
{
	if (b->len > 0)
		*out = json_loadb(b->data, b->len, JSON_ALLOW_NUL, NULL);
}

int coffer_http_request(struct coffer_http *h, const char *method, const char *path,
                        const char *token, const json_t *body, long *status, json_t **resp_json)
{
	struct curl_slist *headers = NULL;
	struct http_buf b = {NULL, 0, 0, false};
	char *url = NULL, *body_text = NULL;
	CURLcode crc;
	int rc = COFFER_ERR_NOMEM;

	*status = 0;
	*resp_json = NULL;
	url = http_url(h, path);
	if (url == NULL || (body != NULL && (body_text = coffer_json_dump(body)) == NULL))
		goto out;
	headers = http_headers(method, token, body_text != NULL);
	if (headers == NULL && (token != NULL || body_text != NULL))
		goto out;
	crc = http_setup(h, method, url, headers, body_text, &b);
	if (crc == CURLE_OK)
		crc = curl_easy_perform(h->curl);
	if (crc != CURLE_OK) {
		if (b.is_too_large)
			snprintf(h->error, sizeof(h->error), "the answer is larger than %u bytes",
			         HTTP_RESPONSE_MAX);
		else if (h->error[0] == '\0')
			snprintf(h->error, sizeof(h->error), "%s", curl_easy_strerror(crc));
		rc = COFFER_ERR_IO;
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	http_parse(&b, resp_json);
	rc = 0;
out:
	if (rc == COFFER_ERR_NOMEM)
		snprintf(h->error, sizeof(h->error), "out of memory");
	/* The options point at headers and body_text: drop them before both are freed. */
	curl_easy_reset(h->curl);
	secmem_freezero(b.data, b.cap);
	http_headers_free(headers);
	coffer_json_free_text(body_text);
	free(url);
	return rc;
}
