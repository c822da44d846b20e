/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.c: the client of http_client.h, over two transports (http_int.h): its own
 * HTTP/1.1 for http://, and libcurl for https://, loaded with dlopen() when the first https
 * client is made, so that a plain-HTTP process never maps libcurl and its TLS stack. Every buffer
 * that may hold a secret (request JSON, token header, response body) is wiped before it is
 * released; the response is a struct buf (buf.h), which grows by copy-and-wipe.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_client.h"
#include "http_int.h"
#include "json.h"
#include "secmem.h"

/* The libcurl functions used, resolved from libcurl.so.4 at the first https client. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *c);
	void (*easy_reset)(CURL *c);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} curl;

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static char http_curl_error[256]; /* why libcurl is not there; "" once loaded */

#define HTTP_CURL_SYM(field, name)                                                         \
	do {                                                                               \
		*(void **)&curl.field = dlsym(lib, name);                                  \
		if (curl.field == NULL) {                                                  \
			snprintf(http_curl_error, sizeof(http_curl_error), "libcurl has no %s", \
			         name);                                                    \
			return;                                                            \
		}                                                                          \
	} while (0)

static void http_curl_load(void)
{
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		snprintf(http_curl_error, sizeof(http_curl_error),
		         "https needs libcurl (libcurl.so.4): %s", dlerror());
		return;
	}
	HTTP_CURL_SYM(global_init, "curl_global_init");
	HTTP_CURL_SYM(easy_init, "curl_easy_init");
	HTTP_CURL_SYM(easy_cleanup, "curl_easy_cleanup");
	HTTP_CURL_SYM(easy_reset, "curl_easy_reset");
	HTTP_CURL_SYM(easy_setopt, "curl_easy_setopt");
	HTTP_CURL_SYM(easy_perform, "curl_easy_perform");
	HTTP_CURL_SYM(easy_getinfo, "curl_easy_getinfo");
	HTTP_CURL_SYM(easy_strerror, "curl_easy_strerror");
	HTTP_CURL_SYM(slist_append, "curl_slist_append");
	HTTP_CURL_SYM(slist_free_all, "curl_slist_free_all");
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(http_curl_error, sizeof(http_curl_error), "cannot initialise libcurl");
		return;
	}
	http_curl_error[0] = '\0';
}

struct coffer_http {
	CURL *curl;              /* https */
	struct http_plain plain; /* http */
	bool is_plain;
	char *addr; /* without a trailing '/' */
	char *ca_cert;
	long timeout_ms;
	char location[1024]; /* a redirect's target (https) */
	char error[CURL_ERROR_SIZE + 64];
};

/* A standby sends a client to the active node with 307 (Vault's rule): followed, the same
 * method, body and token, this many times at most, and only to the same scheme. */
#define HTTP_MAX_REDIRECTS 3

static void http_set_error(char *errbuf, size_t errbuf_len, const char *msg)
{
	if (errbuf != NULL && errbuf_len > 0)
		snprintf(errbuf, errbuf_len, "%s", msg);
}

struct coffer_http *coffer_http_new(const char *addr, const char *ca_cert, long timeout_ms,
                                    char *errbuf, size_t errbuf_len)
{
	struct coffer_http *h;
	const char *authority;
	bool is_plain;
	size_t len;

	if (addr == NULL ||
	    (strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0)) {
		http_set_error(errbuf, errbuf_len,
		               "the address must start with http:// or https://");
		return NULL;
	}
	is_plain = strncmp(addr, "http://", 7) == 0;
	if (!is_plain) {
		pthread_once(&http_once, http_curl_load);
		if (http_curl_error[0] != '\0') {
			http_set_error(errbuf, errbuf_len, http_curl_error);
			return NULL;
		}
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->addr = strdup(addr)) == NULL ||
	    (ca_cert != NULL && (h->ca_cert = strdup(ca_cert)) == NULL) ||
	    (!is_plain && (h->curl = curl.easy_init()) == NULL)) {
		http_set_error(errbuf, errbuf_len, "out of memory");
		coffer_http_free(h);
		return NULL;
	}
	h->plain.fd = -1;
	h->is_plain = is_plain;
	len = strlen(h->addr);
	while (len > 0 && h->addr[len - 1] == '/')
		h->addr[--len] = '\0';
	if (is_plain) {
		/* http://authority[/prefix]: the prefix goes in front of every target. */
		authority = h->addr + 7;
		if (http_plain_init(&h->plain, authority, strcspn(authority, "/"), errbuf,
		                    errbuf_len) != 0) {
			coffer_http_free(h);
			return NULL;
		}
	}
	h->timeout_ms = timeout_ms;
	return h;
}

void coffer_http_free(struct coffer_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl.easy_cleanup(h->curl);
	http_plain_close(&h->plain);
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

/* libcurl's write callback: append to the answer's buffer (its err says why it stopped). */
static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t n = size * nmemb;

	return buf_append(userdata, ptr, n) == 0 ? n : 0;
}

/* Wipe and free a header list: the token header holds the token. */
static void http_headers_free(struct curl_slist *headers)
{
	struct curl_slist *s;

	for (s = headers; s != NULL; s = s->next)
		secmem_wipe(s->data, strlen(s->data));
	curl.slist_free_all(headers);
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
		headers = curl.slist_append(NULL, line);
		secmem_freezero(line, (size_t)n);
		if (headers == NULL)
			return NULL;
	}
	if (has_body) {
		next = curl.slist_append(headers, strcmp(method, "PATCH") == 0
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
                           struct curl_slist *headers, const char *body_text, struct buf *b)
{
	CURL *c = h->curl;
	CURLcode rc = CURLE_OK;

	curl.easy_reset(c);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (rc == CURLE_OK && strcmp(method, "HEAD") == 0)
		rc = curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (rc == CURLE_OK && body_text != NULL)
		rc = curl.easy_setopt(c, CURLOPT_POSTFIELDS, body_text);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
	if (rc == CURLE_OK && h->timeout_ms > 0)
		rc = curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	if (rc == CURLE_OK && h->ca_cert != NULL)
		rc = curl.easy_setopt(c, CURLOPT_CAINFO, h->ca_cert);
	if (rc == CURLE_OK)
		rc = curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return rc;
}

/* Parse the answer into *out; an empty or non-JSON body leaves *out NULL. */
static void http_parse(const struct buf *b, json_t **out)
{
	if (b->len > 0)
		*out = json_loadb(b->data, b->len, JSON_ALLOW_NUL, NULL);
}

/* One request over p, a server reached with h's own HTTP/1.1 (http://): the target is url after
 * the authority. */
static int http_plain_send(struct coffer_http *h, struct http_plain *p, const char *method,
                           const char *url, const char *token, const char *body_text, struct buf *b,
                           long *status)
{
	const char *target = url + 7 + strlen(p->authority);
	char *headers = NULL;
	int n;

	n = asprintf(&headers, "%s%s%s%s", token != NULL ? "X-Vault-Token: " : "",
	             token != NULL ? token : "", token != NULL ? "\r\n" : "",
	             body_text == NULL               ? ""
	             : strcmp(method, "PATCH") == 0 ? "Content-Type: application/merge-patch+json\r\n"
	                                            : "Content-Type: application/json\r\n");
	if (n < 0) {
		snprintf(h->error, sizeof(h->error), "out of memory");
		return COFFER_ERR_NOMEM;
	}
	if (*target == '\0')
		target = "/";
	n = http_plain_request(p, h->timeout_ms, method, target, headers, body_text, b, status,
	                       h->error, sizeof(h->error));
	secmem_freezero(headers, strlen(headers));
	return n == 0 ? 0 : COFFER_ERR_IO;
}

/* One request through libcurl (https://). */
static int http_curl_send(struct coffer_http *h, const char *method, const char *url,
                          const char *token, const char *body_text, struct buf *b, long *status)
{
	struct curl_slist *headers = http_headers(method, token, body_text != NULL);
	CURLcode crc;
	int rc = 0;

	if (headers == NULL && (token != NULL || body_text != NULL)) {
		snprintf(h->error, sizeof(h->error), "out of memory");
		return COFFER_ERR_NOMEM;
	}
	crc = http_setup(h, method, url, headers, body_text, b);
	if (crc == CURLE_OK)
		crc = curl.easy_perform(h->curl);
	if (crc != CURLE_OK) {
		if (b->err == COFFER_ERR_TOO_LARGE)
			snprintf(h->error, sizeof(h->error), "the answer is larger than %u bytes",
			         HTTP_RESPONSE_MAX);
		else if (h->error[0] == '\0')
			snprintf(h->error, sizeof(h->error), "%s", curl.easy_strerror(crc));
		rc = COFFER_ERR_IO;
	} else {
		char *location = NULL;

		curl.easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
		h->location[0] = '\0';
		if (curl.easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
		    location != NULL && strlen(location) < sizeof(h->location))
			snprintf(h->location, sizeof(h->location), "%s", location);
	}
	/* The options point at headers and body_text: drop them before both are freed. */
	curl.easy_reset(h->curl);
	http_headers_free(headers);
	return rc;
}

/* Send once to url: h's own server, another one over plain HTTP (a redirect), or libcurl. */
static int http_send_once(struct coffer_http *h, const char *method, const char *url,
                          const char *token, const char *body_text, struct buf *b, long *status)
{
	struct http_plain hop;
	const char *authority;
	int rc;

	if (!h->is_plain)
		return http_curl_send(h, method, url, token, body_text, b, status);
	authority = url + 7;
	if (strncmp(authority, h->plain.authority, strlen(h->plain.authority)) == 0 &&
	    (authority[strlen(h->plain.authority)] == '/' ||
	     authority[strlen(h->plain.authority)] == '\0'))
		return http_plain_send(h, &h->plain, method, url, token, body_text, b, status);
	if (http_plain_init(&hop, authority, strcspn(authority, "/"), h->error, sizeof(h->error)) !=
	    0)
		return COFFER_ERR_IO;
	hop.fd = -1;
	rc = http_plain_send(h, &hop, method, url, token, body_text, b, status);
	snprintf(h->plain.location, sizeof(h->plain.location), "%s", hop.location);
	http_plain_close(&hop);
	return rc;
}

/* The Location of the redirect just answered, as a malloc'd URL, if it keeps the scheme. */
static char *http_redirect_target(struct coffer_http *h)
{
	const char *loc = h->is_plain ? h->plain.location : h->location;
	const char *scheme = h->is_plain ? "http://" : "https://";
	char *url;

	if (strncmp(loc, scheme, strlen(scheme)) != 0 || loc[strlen(scheme)] == '\0' ||
	    loc[strlen(scheme)] == '/') {
		snprintf(h->error, sizeof(h->error),
		         "the server redirected to \"%.200s\", which is not a %s address", loc,
		         scheme);
		return NULL;
	}
	url = strdup(loc);
	if (url == NULL)
		snprintf(h->error, sizeof(h->error), "out of memory");
	return url;
}

int coffer_http_request(struct coffer_http *h, const char *method, const char *path,
                        const char *token, const json_t *body, long *status, json_t **resp_json)
{
	char *url = NULL, *body_text = NULL;
	int rc = COFFER_ERR_NOMEM;
	struct buf b;

	buf_init(&b, HTTP_BUF_MIN, HTTP_RESPONSE_MAX);
	*status = 0;
	*resp_json = NULL;
	h->error[0] = '\0';
	url = http_url(h, path);
	if (url == NULL || (body != NULL && (body_text = coffer_json_dump(body)) == NULL)) {
		snprintf(h->error, sizeof(h->error), "out of memory");
		goto out;
	}
	for (int hops = 0;; hops++) {
		rc = http_send_once(h, method, url, token, body_text, &b, status);
		if (rc != 0 || (*status != 307 && *status != 308) || hops == HTTP_MAX_REDIRECTS)
			break;
		free(url);
		url = http_redirect_target(h);
		if (url == NULL) {
			rc = COFFER_ERR_IO;
			break;
		}
		buf_reset(&b);
	}
	if (rc == 0)
		http_parse(&b, resp_json);
out:
	buf_free(&b);
	coffer_json_free_text(body_text);
	free(url);
	return rc;
}
