/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_limits.c: connection accounting for the listener. Each connection is admitted or refused
 * (503, closed) when libmicrohttpd reports it started, against a global and a per-address limit;
 * a reaper thread closes a connection whose request head and body took longer than the deadline.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "clock.h"
#include "config.h"
#include "front/http_limits.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_BUCKETS 4096
#define HTTP_KEY_LEN 9    /* family, then an IPv4 address or an IPv6 /64 */
#define HTTP_RESERVE 64   /* beyond the global limit, for addresses that hold none */
#define HTTP_REFUSING 256 /* room in libmicrohttpd for connections being refused */
#define HTTP_REAP_TICK_MS 250

struct http_addr {
	struct http_addr *next;
	uint8_t key[HTTP_KEY_LEN];
	size_t n; /* admitted connections */
};

/* One connection (libmicrohttpd's socket context). */
struct http_conn {
	struct http_conn *prev, *next; /* in l->conns */
	struct http_limits *l;
	struct http_addr *addr; /* NULL when refused */
	int fd;
	atomic_bool has_answered; /* a response was sent: close an idle one without a word */
	atomic_llong began_ms;    /* CLOCK_MONOTONIC; 0 while no request is being received */
	/* The current request's URI as libmicrohttpd first saw it (http_limits_uri_log). */
	const char *uri;
	size_t uri_len;
};

struct http_limits {
	pthread_mutex_t mu; /* the lists; held while the reaper touches an fd */
	pthread_cond_t cond;
	pthread_t reaper;
	bool has_reaper, is_stopping, is_tls;
	size_t max_conns, max_per_addr, n_conns;
	int64_t deadline_ms;
	struct http_conn *conns;
	struct http_addr *buckets[HTTP_BUCKETS];
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

static int64_t http_now_ms(void)
{
	return coffer_clock_mono_ns() / 1000000;
}

/* The address a limit counts: an IPv4 address (also when mapped into IPv6) or an IPv6 /64,
 * since one host commonly holds a whole /64. */
static void http_addr_key(const struct sockaddr *sa, uint8_t key[HTTP_KEY_LEN])
{
	const struct sockaddr_in6 *s6;

	memset(key, 0, HTTP_KEY_LEN);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			key[0] = 4;
			memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
		}
	}
}

/* The bucket of key: keyed (SipHash), so that clients cannot aim at one bucket. */
static struct http_addr **http_addr_slot(struct http_limits *l, const uint8_t *key)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	struct http_addr **pp;

	crypto_shorthash(h, key, HTTP_KEY_LEN, l->hash_key);
	memcpy(&v, h, sizeof(v));
	for (pp = &l->buckets[v % HTTP_BUCKETS]; *pp != NULL; pp = &(*pp)->next) {
		if (memcmp((*pp)->key, key, HTTP_KEY_LEN) == 0)
			break;
	}
	return pp;
}

/* Count hc against the limits; caller holds mu. Non-zero (why says which) when refused. */
static int http_admit(struct http_limits *l, struct http_conn *hc, const uint8_t *key, char *why,
                      size_t why_len)
{
	struct http_addr **pp = http_addr_slot(l, key), *a = *pp;
	size_t held = a != NULL ? a->n : 0;

	if (held >= l->max_per_addr) {
		snprintf(why, why_len, "too many connections from this address (limit %zu)",
		         l->max_per_addr);
		return COFFER_ERR_LIMIT;
	}
	/* Full: only an address that holds none may still come in, into the reserve (health
	 * checks and new clients stay served while a few addresses hold every slot). */
	if (l->n_conns >= l->max_conns && (held > 0 || l->n_conns >= l->max_conns + HTTP_RESERVE)) {
		snprintf(why, why_len, "too many connections (limit %zu)", l->max_conns);
		return COFFER_ERR_LIMIT;
	}
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		memcpy(a->key, key, HTTP_KEY_LEN);
		*pp = a;
	}
	a->n++;
	l->n_conns++;
	hc->addr = a;
	return 0;
}

/* Release hc's count; caller holds mu. */
static void http_release(struct http_limits *l, struct http_conn *hc)
{
	struct http_addr **pp;

	if (hc->addr == NULL)
		return;
	l->n_conns--;
	if (--hc->addr->n == 0) {
		pp = http_addr_slot(l, hc->addr->key);
		*pp = hc->addr->next;
		free(hc->addr);
	}
	hc->addr = NULL;
}

/* Write a whole small answer and close both directions; libmicrohttpd then reads the end of
 * the stream and closes the connection. Nothing is written in clear on a TLS connection. */
static void http_answer_close(const struct http_limits *l, int fd, int status, const char *reason,
                              const char *msg)
{
	char text[512], sink[4096];
	int body_len, len;

	if (!l->is_tls) {
		body_len = (int)strlen(msg) + (int)sizeof("{\"errors\":[\"\"]}") - 1;
		len = snprintf(text, sizeof(text),
		               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		               "Cache-Control: no-store\r\nConnection: close\r\n"
		               "Content-Length: %d\r\n\r\n{\"errors\":[\"%s\"]}",
		               status, reason, body_len, msg);
		if (len > 0 && (size_t)len < sizeof(text))
			(void)send(fd, text, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	/* What the client sent already would turn the close into a reset, which may drop the
	 * answer before the client reads it. */
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	shutdown(fd, SHUT_RDWR);
}

static void http_started(struct http_limits *l, struct MHD_Connection *conn, void **ctx)
{
	const union MHD_ConnectionInfo *fdi, *ai;
	uint8_t key[HTTP_KEY_LEN];
	struct http_conn *hc;
	char why[128];
	int refused;

	fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fdi == NULL)
		return; /* no context: the connection is not limited (never happens) */
	hc = xcalloc(1, sizeof(*hc));
	hc->l = l;
	hc->fd = fdi->connect_fd;
	http_addr_key(ai != NULL ? ai->client_addr : NULL, key);
	pthread_mutex_lock(&l->mu);
	refused = http_admit(l, hc, key, why, sizeof(why));
	atomic_store(&hc->began_ms, refused ? 0 : http_now_ms());
	hc->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = hc;
	l->conns = hc;
	pthread_mutex_unlock(&l->mu);
	*ctx = hc;
	if (refused) {
		log_debug("http: refused a connection: %s", why);
		http_answer_close(l, hc->fd, 503, "Service Unavailable", why);
	}
}

/* Before libmicrohttpd closes the socket: after this the reaper cannot reach the fd. */
static void http_closed(struct http_limits *l, struct http_conn *hc)
{
	pthread_mutex_lock(&l->mu);
	http_release(l, hc);
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		l->conns = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	pthread_mutex_unlock(&l->mu);
	free(hc);
}

void http_limits_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code)
{
	struct http_limits *l = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		http_started(l, conn, socket_context);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL)
		http_closed(l, *socket_context);
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		*socket_context = NULL;
}

static struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

void *http_limits_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_conn *hc = http_conn_of(conn);

	(void)cls;
	if (hc != NULL) {
		hc->uri = uri;
		hc->uri_len = uri != NULL ? strlen(uri) : 0;
	}
	return NULL; /* the access handler's first call still sees no request state */
}

/* libmicrohttpd 0.9.75 parses the request line in place: the URI, then a NUL where the space
 * before the version was, then the version. A NUL byte inside the URI ends it early, so the
 * version then starts further on than right after the URI's end. */
bool http_limits_uri_is_whole(struct MHD_Connection *conn, const char *url, const char *version)
{
	struct http_conn *hc = http_conn_of(conn);

	if (hc == NULL)
		return true; /* not tracked (no socket at its start) */
	return hc->uri != NULL && url == hc->uri && version == hc->uri + hc->uri_len + 1;
}

void http_limits_received(struct MHD_Connection *conn)
{
	struct http_conn *hc = http_conn_of(conn);

	if (hc != NULL)
		atomic_store(&hc->began_ms, 0);
}

void http_limits_next(struct MHD_Connection *conn)
{
	struct http_conn *hc = http_conn_of(conn);

	if (hc != NULL && hc->addr != NULL) {
		atomic_store(&hc->has_answered, true);
		atomic_store(&hc->began_ms, http_now_ms());
	}
}

/* Close the connections past their deadline; caller holds mu. The first request of a
 * connection gets a 408; a kept connection is closed without one, since a client would read
 * it as the answer to the request it sends next. */
static void http_reap(struct http_limits *l)
{
	char msg[96];
	int64_t now = http_now_ms();
	long long began;

	for (struct http_conn *hc = l->conns; hc != NULL; hc = hc->next) {
		began = atomic_load(&hc->began_ms);
		if (began == 0 || now - began < l->deadline_ms ||
		    !atomic_compare_exchange_strong(&hc->began_ms, &began, 0))
			continue;
		log_debug("http: closing a connection: no request within the deadline");
		if (atomic_load(&hc->has_answered)) {
			shutdown(hc->fd, SHUT_RDWR);
			continue;
		}
		snprintf(msg, sizeof(msg), "request not received within %llds",
		         (long long)(l->deadline_ms / 1000));
		http_answer_close(l, hc->fd, 408, "Request Timeout", msg);
	}
}

static void *http_reaper_main(void *arg)
{
	struct http_limits *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->mu);
	while (!l->is_stopping) {
		http_reap(l);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += HTTP_REAP_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->cond, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Each connection is a descriptor: the soft limit (often 1024) would refuse them long before
 * max_connections does. */
static void http_raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("http: cannot raise the open file limit: %s", strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < want)
		log_warn(
		    "http: the open file limit (%llu) is below max_connections plus its reserve "
		    "(%zu): raise LimitNOFILE / ulimit -n",
		    (unsigned long long)rl.rlim_cur, want);
}

unsigned http_limits_mhd_cap(const struct http_limits *l)
{
	return (unsigned)(l->max_conns + HTTP_RESERVE + HTTP_REFUSING);
}

int http_limits_new(const struct config *cfg, bool is_tls, struct http_limits **out)
{
	struct http_limits *l;
	pthread_condattr_t ca;
	pthread_attr_t attr;

	*out = NULL;
	l = xcalloc(1, sizeof(*l));
	l->is_tls = is_tls;
	l->max_conns = cfg->max_connections;
	l->max_per_addr = cfg->max_connections_per_address;
	l->deadline_ms = cfg->request_deadline_s * 1000;
	randombytes_buf(l->hash_key, sizeof(l->hash_key));
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	http_raise_nofile(l->max_conns + HTTP_RESERVE + HTTP_REFUSING + 64);
	/* A small stack: mlockall() makes all of it resident. */
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, (size_t)128 << 10) != 0 ||
	    pthread_create(&l->reaper, &attr, http_reaper_main, l) != 0) {
		http_limits_free(l);
		return COFFER_ERR_INTERNAL;
	}
	pthread_attr_destroy(&attr);
	pthread_setname_np(l->reaper, "http-reaper");
	l->has_reaper = true;
	*out = l;
	return 0;
}

void http_limits_free(struct http_limits *l)
{
	struct http_addr *a, *next;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->is_stopping = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	if (l->has_reaper)
		pthread_join(l->reaper, NULL);
	for (size_t i = 0; i < HTTP_BUCKETS; i++) {
		for (a = l->buckets[i]; a != NULL; a = next) {
			next = a->next;
			free(a);
		}
	}
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
