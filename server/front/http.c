/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c: the libmicrohttpd listener. It turns each connection's method, path, headers and
 * bounded body into a struct request, runs the router, and sends the response with
 * Content-Type application/json. Request and response bodies are wiped when released.
 *
 * Reads run on libmicrohttpd's few threads (one per core or so keeps each busy with several
 * connections). A write waits for its group commit, so it runs on a larger pool of its own while
 * its connection is suspended: a group commit gathers as many writes as are waiting, and the
 * listener's threads stay free for reads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "codec.h"
#include "core.h"
#include "crypto.h"
#include "fileio.h"
#include "front/http.h"
#include "front/http_limits.h"
#include "json.h"
#include "log.h"
#include "front/router.h"
#include "secmem.h"
#include "xmalloc.h"

#define HTTP_WRITERS_PER_CORE 32
#define HTTP_WRITERS_MAX 128
#define HTTP_WRITER_STACK ((size_t)512 << 10) /* half a listener thread's (1 MiB) */
#define HTTP_MHD_MEMORY ((size_t)32 << 10)    /* libmicrohttpd's memory per connection */
#define HTTP_MAX_HEAD 16384                   /* a larger request head gets 431 */

/* A write request handed to the write pool; its connection is suspended meanwhile. */
struct http_job {
	struct http_job *next;
	struct MHD_Connection *conn;
	struct http_ctx *ctx;
	struct request req;
	struct response resp;
};

struct http_pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct http_job *head, **tail;
	bool is_stopping;
	pthread_t *threads;
	size_t n_threads;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct core *core;
	struct http_pool pool;
	bool has_pool;
	char *tls_key;              /* PEM text in secmem, wiped at stop */
	char *tls_cert;             /* secmem too, from the same reader */
	struct http_limits *limits; /* connection limits and the request deadline */
};

/* Per-request state across libmicrohttpd's calls to the access handler. */
struct http_ctx {
	struct buf body; /* wiped when it grows and when it goes */
	bool is_too_large;
	struct response_hold *hold; /* a held response, while the connection is suspended */
	bool has_resp;              /* resp was made by the write pool, to send when resumed */
	struct response resp;
};

static void http_ctx_free(struct http_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->hold != NULL)
		ctx->hold->release(ctx->hold);
	if (ctx->has_resp)
		response_clear(&ctx->resp);
	buf_free(&ctx->body);
	free(ctx);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	http_ctx_free(*con_cls);
	*con_cls = NULL;
	http_limits_next(conn); /* a kept connection: the deadline runs for the next request */
}

static const char *http_query(const struct request *req, const char *key)
{
	return MHD_lookup_connection_value(req->transport, MHD_GET_ARGUMENT_KIND, key);
}

struct http_query_acc {
	char *buf;
	size_t len, pos;
};

static enum MHD_Result http_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	struct http_query_acc *a = cls;

	(void)kind;
	char sep = a->pos == 0 ? '?' : '&';

	if (a->pos + 1 >= a->len)
		return MHD_NO;
	a->buf[a->pos++] = sep;
	codec_percent_encode(a->buf, a->len, &a->pos, key, NULL);
	if (value != NULL && a->pos + 1 < a->len) {
		a->buf[a->pos++] = '=';
		codec_percent_encode(a->buf, a->len, &a->pos, value, NULL);
	}
	return a->pos < a->len ? MHD_YES : MHD_NO;
}

/* "?k=v&..." from the parsed arguments, or "" (a query too long for buf is dropped whole). */
static void http_query_string(const struct request *req, char *buf, size_t len)
{
	struct http_query_acc a = {buf, len, 0};

	if (len == 0)
		return;
	MHD_get_connection_values(req->transport, MHD_GET_ARGUMENT_KIND, http_query_arg, &a);
	buf[a.pos < len ? a.pos : 0] = '\0';
}

static int http_parse_method(const char *m, enum req_method *out)
{
	static const struct {
		const char *name;
		enum req_method m;
	} methods[] = {{"GET", REQ_GET},  {"HEAD", REQ_HEAD},   {"POST", REQ_POST},
	               {"PUT", REQ_PUT},  {"PATCH", REQ_PATCH}, {"DELETE", REQ_DELETE},
	               {"LIST", REQ_LIST}};
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(m, methods[i].name) == 0) {
			*out = methods[i].m;
			return 0;
		}
	}
	return COFFER_ERR_METHOD;
}

static void http_remote_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "unknown");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)cap);
}

static const char *http_token(struct MHD_Connection *conn)
{
	const char *tok, *auth;

	tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vault-Token");
	if (tok != NULL && tok[0] != '\0')
		return tok;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
		return auth + 7;
	return NULL;
}

/*
 * Fill req from the connection. On a client error, resp is set and a non-zero code returned.
 * The path must be under /v1/; query ?list= turns a GET into a LIST.
 */
static int http_build_request(struct MHD_Connection *conn, const char *url, const char *method,
                              struct http_ctx *ctx, struct request *req, struct response *resp)
{
	const char *list;
	char msg[200];
	bool is_list = false;

	req->transport = conn;
	req->query = http_query;
	req->query_string = http_query_string;
	coffer_request_id(req->request_id);
	http_remote_addr(conn, req->remote_addr, sizeof(req->remote_addr));
	if (http_parse_method(method, &req->method) != 0) {
		response_fail(resp, COFFER_ERR_METHOD, "unsupported method");
		return COFFER_ERR_METHOD;
	}
	if (strncmp(url, "/v1/", 4) != 0) {
		response_fail(resp, COFFER_ERR_UNSUPPORTED, "unsupported path");
		return COFFER_ERR_UNSUPPORTED;
	}
	if (path_normalize(url + 4, strlen(url + 4), req->path, sizeof(req->path)) != 0) {
		response_invalid(resp, "invalid request path");
		return COFFER_ERR_INVALID;
	}
	/* From here a refusal is audited (router_refuse()): the path and the token are known. */
	req->is_path_set = true;
	req->token = http_token(conn);
	req->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	list = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "list");
	if (list != NULL && req->method == REQ_GET && request_parse_bool(list, &is_list) != 0) {
		response_invalid(resp, "invalid value for list: %.64s", list);
		return COFFER_ERR_INVALID;
	}
	req->is_list = req->method == REQ_LIST || is_list;
	if (coffer_json_parse_object(ctx->body.data != NULL ? ctx->body.data : "", ctx->body.len,
	                             &req->body, msg, sizeof(msg)) != 0) {
		response_invalid(resp, "%s", msg);
		return COFFER_ERR_INVALID;
	}
	return 0;
}

static void http_free_text(void *text)
{
	secmem_freezero(text, strlen(text));
}

static enum MHD_Result http_send(struct MHD_Connection *conn, struct response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;
	const char *ctype = "application/json";

	if (resp->json != NULL) {
		text = coffer_json_dump(resp->json);
		r = MHD_create_response_from_buffer_with_free_callback(
		    strlen(text), text, (MHD_ContentReaderFreeCallback)coffer_json_free_text);
	} else if (resp->text != NULL) {
		/* A body built as text (JSON with spliced secret data, or metrics): wiped too. */
		if (resp->content_type != NULL)
			ctype = resp->content_type;
		r = MHD_create_response_from_buffer_with_free_callback(strlen(resp->text),
		                                                       resp->text, http_free_text);
		resp->text = NULL;
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		ctype = NULL;
	}
	if (r == NULL) {
		coffer_json_free_text(text);
		return MHD_NO;
	}
	if (ctype != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (resp->location != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Append an upload chunk, or mark the request too large and drop the body. */
static void http_ctx_append(struct http_ctx *ctx, const char *data, size_t len, size_t max)
{
	if (ctx->is_too_large)
		return;
	if (len > max - ctx->body.len) {
		ctx->is_too_large = true;
		buf_free(&ctx->body);
		return;
	}
	/* The size is bounded by max_request_size: out of memory is fatal (xmalloc.h). */
	if (buf_append(&ctx->body, data, len) != 0)
		fatal("out of memory");
}

static bool http_declared_too_large(struct MHD_Connection *conn, size_t max)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	unsigned long long n;
	char *end;

	if (cl == NULL)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return errno != 0 || *end != '\0' || n > max;
}

/* Refuse a request from its head alone, before reading its body (libmicrohttpd then closes the
 * connection): a NUL byte in the request line's URI (400: libmicrohttpd would cut the path
 * there), a head over HTTP_MAX_HEAD (431; a head over HTTP_MHD_MEMORY never reaches us and gets
 * libmicrohttpd's own 431 page) or a declared body over max (413). */
static bool http_refuse_head(struct MHD_Connection *conn, const char *url, const char *version,
                             size_t max, struct response *resp)
{
	const union MHD_ConnectionInfo *ci;

	if (!http_limits_uri_is_whole(conn, url, version)) {
		response_invalid(resp, "invalid request path");
		return true;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci != NULL && ci->header_size > HTTP_MAX_HEAD) {
		response_fail(resp, COFFER_ERR_HEADERS_LARGE,
		              "request header fields too large (limit %d bytes)", HTTP_MAX_HEAD);
		return true;
	}
	if (http_declared_too_large(conn, max)) {
		response_fail(resp, COFFER_ERR_TOO_LARGE,
		              "request body too large (limit %zu bytes)", max);
		return true;
	}
	return false;
}

static void http_resume(void *arg)
{
	MHD_resume_connection(arg);
}

/* Methods that change state, and so wait for a commit. */
static bool http_is_write(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/* Run a job on a pool thread and hand its response to the suspended connection. After the resume
 * the connection (and ctx) may go at any time: nothing touches them afterwards. */
static void http_job_run(struct http_server *h, struct http_job *job)
{
	struct MHD_Connection *conn = job->conn;
	struct http_ctx *ctx = job->ctx;

	router_dispatch(h->core, &job->req, &job->resp);
	json_decref(job->req.body);
	if (job->resp.hold != NULL) {
		ctx->hold = job->resp.hold;
		free(job);
		ctx->hold->arm(ctx->hold, http_resume, conn);
		return;
	}
	ctx->resp = job->resp;
	ctx->has_resp = true;
	free(job);
	MHD_resume_connection(conn);
}

static void *http_pool_main(void *arg)
{
	struct http_server *h = arg;
	struct http_pool *p = &h->pool;
	struct http_job *job;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->is_stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->head == NULL)
			break;
		job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		http_job_run(h, job);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queue job for the pool; once the pool is stopping (shutdown), run it here instead: nobody
 * would take it from the queue. */
static void http_pool_submit(struct http_server *h, struct http_job *job)
{
	struct http_pool *p = &h->pool;
	bool is_stopping;

	pthread_mutex_lock(&p->lock);
	is_stopping = p->is_stopping;
	if (!is_stopping) {
		job->next = NULL;
		*p->tail = job;
		p->tail = &job->next;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	if (is_stopping)
		http_job_run(h, job);
}

static unsigned http_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

static int http_pool_start(struct http_server *h)
{
	struct http_pool *p = &h->pool;
	size_t n = (size_t)http_cores() * HTTP_WRITERS_PER_CORE;
	pthread_attr_t attr;

	if (n > HTTP_WRITERS_MAX)
		n = HTTP_WRITERS_MAX;
	p->tail = &p->head;
	p->threads = xcalloc(n, sizeof(*p->threads));
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		goto fail_free;
	if (pthread_cond_init(&p->wake, NULL) != 0)
		goto fail_mutex;
	h->has_pool = true;
	/* Small stacks: mlockall() makes every stack resident, and 64 default 8 MiB stacks would
	 * lock half a gigabyte. Handlers keep large buffers on the heap (the job's request). */
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, HTTP_WRITER_STACK) != 0)
		return COFFER_ERR_INTERNAL;
	for (; p->n_threads < n; p->n_threads++) {
		if (pthread_create(&p->threads[p->n_threads], &attr, http_pool_main, h) != 0)
			break; /* http_stop() joins those started */
		pthread_setname_np(p->threads[p->n_threads], "http-write");
	}
	pthread_attr_destroy(&attr);
	return p->n_threads == n ? 0 : COFFER_ERR_INTERNAL;
fail_mutex:
	pthread_mutex_destroy(&p->lock);
fail_free:
	free(p->threads);
	p->threads = NULL;
	return COFFER_ERR_INTERNAL;
}

/* Finish every queued job (each resumes its connection), then join the threads. Writes that
 * come after run on the listener's threads (http_pool_submit) until the listener stops. */
static void http_pool_stop(struct http_server *h)
{
	struct http_pool *p = &h->pool;

	if (!h->has_pool)
		return;
	pthread_mutex_lock(&p->lock);
	p->is_stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
}

/* After the listener stopped: nothing can submit any more. */
static void http_pool_free(struct http_server *h)
{
	struct http_pool *p = &h->pool;

	if (!h->has_pool)
		return;
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	h->has_pool = false;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
	struct http_server *h = cls;
	struct http_ctx *ctx = *con_cls;
	struct request stack_req, *req = &stack_req;
	struct http_job *job = NULL;
	struct response resp = {0};
	size_t max = h->core->cfg->max_request_size;
	enum MHD_Result ret;

	if (ctx == NULL) {
		ctx = xcalloc(1, sizeof(*ctx));
		buf_init(&ctx->body, 1024, 0);
		*con_cls = ctx;
		if (!http_refuse_head(conn, url, version, max, &resp))
			return MHD_YES;
		goto send;
	}
	if (*upload_data_size != 0) {
		http_ctx_append(ctx, upload_data, *upload_data_size, max);
		*upload_data_size = 0;
		return MHD_YES;
	}
	http_limits_received(conn); /* held or processed from here: no deadline */
	if (ctx->hold != NULL) {
		/* Resumed: the held response is ready. */
		ctx->hold->finish(ctx->hold, &resp);
		ctx->hold->release(ctx->hold);
		ctx->hold = NULL;
		goto send;
	}
	if (ctx->has_resp) {
		/* Resumed: the write pool has answered. */
		resp = ctx->resp;
		ctx->has_resp = false;
		goto send;
	}
	if (ctx->is_too_large) {
		response_fail(&resp, COFFER_ERR_TOO_LARGE,
		              "request body too large (limit %zu bytes)", max);
		goto send;
	}
	if (h->has_pool && http_is_write(method)) {
		job = xcalloc(1, sizeof(*job));
		req = &job->req;
	} else {
		memset(&stack_req, 0, REQUEST_ZERO_LEN); /* 12 KiB of buffers need no zeroing */
	}
	if (http_build_request(conn, url, method, ctx, req, &resp) == 0) {
		if (job != NULL) {
			job->conn = conn;
			job->ctx = ctx;
			MHD_suspend_connection(conn);
			http_pool_submit(h, job);
			return MHD_YES;
		}
		router_dispatch(h->core, req, &resp);
	} else if (req->is_path_set) {
		router_refuse(h->core, req, &resp); /* a bad query or body: audited */
	}
	json_decref(req->body);
	free(job);
	if (resp.hold != NULL) {
		ctx->hold = resp.hold;
		MHD_suspend_connection(conn);
		ctx->hold->arm(ctx->hold, http_resume, conn);
		return MHD_YES;
	}
send:
	http_limits_received(conn);
	if (resp.status == 0)
		response_fail(&resp, COFFER_ERR_INTERNAL, "internal error: no response");
	ret = http_send(conn, &resp);
	response_clear(&resp);
	return ret;
}

__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

/* %HH in the URL and its arguments; "%00" becomes a byte that the path check refuses (path.h). */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return path_unescape(s);
}

/* Parse "host:port", "[v6]:port" or ":port" into a socket address. */
static int http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon, *hs = listen, *he;
	struct addrinfo hints = {0}, *ai = NULL;
	int rc;

	colon = strrchr(listen, ':');
	if (colon == NULL || colon[1] == '\0')
		return COFFER_ERR_CONFIG;
	he = colon;
	if (hs[0] == '[') {
		hs++;
		if (he == hs || he[-1] != ']')
			return COFFER_ERR_CONFIG;
		he--;
	}
	if ((size_t)(he - hs) >= sizeof(host))
		return COFFER_ERR_CONFIG;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0 || ai == NULL)
		return COFFER_ERR_CONFIG;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* A TLS file (PEM text) into secmem; NULL after logging why. The key gets the permission rule
 * (fileio.h); the certificate is no secret. */
static char *http_read_tls_file(const char *path, unsigned flags)
{
	uint8_t *pem = NULL;
	char err[512];
	size_t len;

	if (coffer_read_secret_file(path, 1, (1u << 20) - 1, flags, &pem, &len, err, sizeof(err)) !=
	    0) {
		log_error("tls: %s", err);
		return NULL;
	}
	if (err[0] != '\0')
		log_warn("tls: %s", err);
	return (char *)pem;
}

/* Listener threads: reads block only on storage reads (page cache, or the disk on a miss). Each
 * thread serving several connections wakes less often than one per connection (64 threads for
 * 32 connections read a third slower). Writes have their own pool, sized so that a group commit
 * can gather many: 8 writers on 2 cores gave groups of 3 and a third fewer writes/s than 64. */
static unsigned http_pool_size(void)
{
	unsigned n = http_cores();

	return n * 4 > 32 ? 32 : n * 4;
}

int http_start(struct core *c, struct http_server **out)
{
	const struct config *cfg = c->cfg;
	struct http_server *h;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	int err = 0;

	*out = NULL;
	if (http_parse_listen(cfg->listen, &ss, &sslen) != 0) {
		log_error("listen: cannot parse address '%s'", cfg->listen);
		return COFFER_ERR_CONFIG;
	}
	h = xcalloc(1, sizeof(*h));
	h->core = c;
	if ((err = http_pool_start(h)) != 0) {
		log_error("http: cannot start the write pool");
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert_file != NULL) {
		h->tls_cert = http_read_tls_file(cfg->tls_cert_file, COFFER_SECRET_FILE_ANY_MODE);
		if (h->tls_cert != NULL)
			h->tls_key = http_read_tls_file(cfg->tls_key_file, 0);
		if (h->tls_cert == NULL || h->tls_key == NULL) {
			err = COFFER_ERR_CONFIG;
			goto out;
		}
		flags |= MHD_USE_TLS;
	}
	if ((err = http_limits_new(cfg, h->tls_cert != NULL, &h->limits)) != 0)
		goto out;
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, http_handle, h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
	    http_pool_size(), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h, MHD_OPTION_UNESCAPE_CALLBACK,
	    http_unescape, NULL, MHD_OPTION_NOTIFY_CONNECTION, http_limits_notify, h->limits,
	    MHD_OPTION_URI_LOG_CALLBACK, http_limits_uri_log, NULL, MHD_OPTION_CONNECTION_LIMIT,
	    http_limits_mhd_cap(h->limits), MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_MHD_MEMORY,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_THREAD_STACK_SIZE, (size_t)1 << 20,
	    h->tls_cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
	    MHD_OPTION_HTTPS_MEM_KEY, h->tls_key, MHD_OPTION_END);
	if (h->daemon == NULL) {
		log_error("cannot listen on %s%s", cfg->listen,
		          h->tls_cert != NULL ? " (or the TLS key and certificate are unusable)"
		                              : "");
		err = COFFER_ERR_CONFIG;
		goto out;
	}
	*out = h;
out:
	if (err != 0)
		http_stop(h);
	return err;
}

void http_stop(struct http_server *h)
{
	MHD_socket listen_fd = MHD_INVALID_SOCKET;

	if (h == NULL)
		return;
	/* Writes in progress finish and resume their connections, which the stop then closes. */
	if (h->daemon != NULL)
		listen_fd = MHD_quiesce_daemon(h->daemon);
	http_pool_stop(h);
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon);
	http_limits_free(h->limits); /* every connection is closed */
	http_pool_free(h);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	secmem_free(h->tls_key);
	secmem_free(h->tls_cert);
	free(h);
}
