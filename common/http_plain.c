/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_plain.c: HTTP/1.1 over a plain TCP connection, enough for Coffer's API (see http_int.h):
 * one request at a time, the connection kept for the next one, answers with Content-Length,
 * chunked or up to the close; a deadline over the whole exchange. Every buffer that held the
 * request (its token) or the answer is wiped.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http_int.h"
#include "secmem.h"

#define HTTP_HEAD_MAX (64u << 10) /* status line and headers */

int http_plain_init(struct http_plain *p, const char *authority, size_t len, char *err,
                    size_t err_len)
{
	const char *host = authority, *colon;
	size_t host_len;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (len == 0 || len >= sizeof(p->authority))
		goto bad;
	if (authority[0] == '[') {
		const char *close = memchr(authority, ']', len);

		if (close == NULL)
			goto bad;
		host = authority + 1;
		host_len = (size_t)(close - host);
		colon = close + 1 < authority + len && close[1] == ':' ? close + 1 : NULL;
		if (colon == NULL && close + 1 != authority + len)
			goto bad;
	} else {
		colon = memchr(authority, ':', len);
		host_len = colon != NULL ? (size_t)(colon - authority) : len;
	}
	if (host_len == 0 || host_len >= sizeof(p->host))
		goto bad;
	memcpy(p->host, host, host_len);
	if (colon != NULL) {
		size_t port_len = (size_t)(authority + len - colon - 1);

		if (port_len == 0 || port_len >= sizeof(p->port) ||
		    strspn(colon + 1, "0123456789") < port_len)
			goto bad;
		memcpy(p->port, colon + 1, port_len);
	} else {
		memcpy(p->port, "80", 3);
	}
	memcpy(p->authority, authority, len);
	return 0;
bad:
	snprintf(err, err_len, "bad host or port in the address");
	return -1;
}

void http_plain_close(struct http_plain *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int64_t http_now_ms(void)
{
	return coffer_clock_mono_ns() / 1000000;
}

/* Wait until fd is ready for events or the deadline (0: none) passes: 0, or -1 with err. */
static int http_wait(int fd, short events, int64_t deadline, char *err, size_t err_len)
{
	struct pollfd pfd = {fd, events, 0};
	int64_t left;
	int rc;

	for (;;) {
		left = deadline == 0 ? -1 : deadline - http_now_ms();
		if (deadline != 0 && left <= 0) {
			snprintf(err, err_len, "timed out");
			return -1;
		}
		rc = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			snprintf(err, err_len, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static int http_connect(struct http_plain *p, int64_t deadline, char *err, size_t err_len)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	socklen_t olen;
	int fd = -1, rc, one = 1, soerr = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(p->host, p->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_len, "cannot resolve %s: %s", p->host, gai_strerror(rc));
		return -1;
	}
	snprintf(err, err_len, "cannot connect to %s", p->authority);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && http_wait(fd, POLLOUT, deadline, err, err_len) == 0 &&
		     (olen = sizeof(soerr),
		      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &olen) == 0 && soerr == 0)))
			break;
		if (soerr != 0 || errno != 0)
			snprintf(err, err_len, "cannot connect to %s: %s", p->authority,
			         strerror(soerr != 0 ? soerr : errno));
		close(fd);
		fd = -1;
		soerr = 0;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->fd = fd;
	return 0;
}

static int http_send_all(int fd, const char *s, size_t len, int64_t deadline, char *err,
                         size_t err_len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n > 0) {
			s += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if (http_wait(fd, POLLOUT, deadline, err, err_len) != 0)
				return -1;
		} else if (n < 0 && errno != EINTR) {
			snprintf(err, err_len, "send: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Read more of the answer into raw: >0 bytes, 0 at the end of the stream, -1 with err. */
static ssize_t http_recv_some(int fd, struct buf *raw, int64_t deadline, char *err, size_t err_len)
{
	char chunk[16384];
	ssize_t n;

	for (;;) {
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n > 0) {
			int rc = buf_append(raw, chunk, (size_t)n);

			secmem_wipe(chunk, (size_t)n);
			if (rc != 0) {
				snprintf(err, err_len,
				         rc == COFFER_ERR_TOO_LARGE ? "the answer is too large"
				                                    : "out of memory");
				return -1;
			}
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EAGAIN) {
			if (http_wait(fd, POLLIN, deadline, err, err_len) != 0)
				return -1;
		} else if (errno != EINTR) {
			snprintf(err, err_len, "recv: %s", strerror(errno));
			return -1;
		}
	}
}

/* The value of header name in the head (lines ending "\r\n"), or NULL; its length in *len. */
static const char *http_header(const char *head, size_t head_len, const char *name, size_t *len)
{
	size_t name_len = strlen(name);
	const char *line = memchr(head, '\n', head_len), *end = head + head_len, *eol;

	for (line = line != NULL ? line + 1 : end; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - line) > name_len && line[name_len] == ':' &&
		    strncasecmp(line, name, name_len) == 0) {
			const char *v = line + name_len + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			while (*len > 0 && (v[*len - 1] == '\r' || v[*len - 1] == ' '))
				(*len)--;
			return v;
		}
	}
	return NULL;
}

/* Decode a chunked body that starts at raw->data[at]: 1 and the body in out when complete, 0
 * when more must be read, -1 when malformed. */
static int http_dechunk(const struct buf *raw, size_t at, struct buf *out)
{
	const char *p = raw->data + at, *end = raw->data + raw->len, *eol;
	unsigned long long size;
	char *num_end;

	buf_reset(out);
	for (;;) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return 0;
		errno = 0;
		size = strtoull(p, &num_end, 16);
		if (num_end == p || errno != 0 || size > HTTP_RESPONSE_MAX)
			return -1;
		p = eol + 1;
		if (size == 0) /* the last chunk, then trailers (unused by the API) and a blank line */
			return memmem(p - 2, (size_t)(end - p + 2), "\r\n\r\n", 4) != NULL ? 1 : 0;
		if ((size_t)(end - p) < size + 2)
			return 0;
		if (buf_append(out, p, (size_t)size) != 0)
			return -1;
		p += size + 2;
	}
}

int http_parse_answer(const struct buf *raw, bool is_head, bool is_eof, struct buf *out,
                      long *status, bool *is_close, const char **why)
{
	const char *head_end, *v;
	size_t head_len, body_at, vlen = 0;
	unsigned long long clen = 0;
	bool has_clen = false, is_chunked;
	int minor, d;

	*why = "malformed answer";
	head_end = raw->len > 0 ? memmem(raw->data, raw->len, "\r\n\r\n", 4) : NULL;
	if (head_end == NULL) {
		if (raw->len > HTTP_HEAD_MAX) {
			*why = "malformed answer (headers too long)";
			return -1;
		}
		if (is_eof) {
			*why = raw->len > 0 ? "the server closed the connection mid-answer"
			                    : "the server closed the connection";
			return -1;
		}
		return 0;
	}
	head_len = (size_t)(head_end - raw->data) + 2;
	body_at = head_len + 2;
	if (sscanf(raw->data, "HTTP/1.%d %ld", &minor, status) != 2 || *status < 100 ||
	    *status > 999) {
		*why = "malformed answer (status line)";
		return -1;
	}
	v = http_header(raw->data, head_len, "Connection", &vlen);
	*is_close = minor == 0 || (v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0);
	v = http_header(raw->data, head_len, "Transfer-Encoding", &vlen);
	is_chunked = v != NULL && vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0;
	v = http_header(raw->data, head_len, "Content-Length", &vlen);
	if (v != NULL) {
		char *end;

		errno = 0;
		clen = strtoull(v, &end, 10);
		if (errno != 0 || end == v || clen > HTTP_RESPONSE_MAX) {
			*why = "malformed answer (length)";
			return -1;
		}
		has_clen = true;
	}
	if (is_head || *status == 204 || *status == 304) {
		has_clen = true;
		clen = 0;
		is_chunked = false;
	}
	buf_reset(out);
	if (is_chunked) {
		/* Complete only when the stream ends in the blank line after the last chunk (one
		 * request at a time: nothing follows an answer); decoding is put off until then. */
		if (!is_eof && memcmp(raw->data + raw->len - 4, "\r\n\r\n", 4) != 0)
			return 0;
		d = http_dechunk(raw, body_at, out);
		if (d < 0) {
			*why = "malformed answer (chunks)";
			return -1;
		}
		if (d == 0 && is_eof) {
			*why = "the server closed the connection mid-answer";
			return -1;
		}
		return d;
	}
	if (has_clen) {
		if (raw->len - body_at < clen) {
			if (is_eof) {
				*why = "the server closed the connection mid-answer";
				return -1;
			}
			return 0;
		}
		if (buf_append(out, raw->data + body_at, (size_t)clen) != 0) {
			*why = "out of memory";
			return -1;
		}
		return 1;
	}
	if (!is_eof)
		return 0; /* the body runs to the end of the stream */
	if (raw->len > body_at && buf_append(out, raw->data + body_at, raw->len - body_at) != 0) {
		*why = "out of memory";
		return -1;
	}
	*is_close = true;
	return 1;
}

/* The Location header of a complete answer in raw, when it fits. */
static void http_copy_location(const struct buf *raw, char *out, size_t len)
{
	const char *head_end = memmem(raw->data, raw->len, "\r\n\r\n", 4), *v;
	size_t vlen = 0;

	if (head_end == NULL)
		return;
	v = http_header(raw->data, (size_t)(head_end - raw->data) + 2, "Location", &vlen);
	if (v != NULL && vlen < len && memchr(v, '\0', vlen) == NULL) {
		memcpy(out, v, vlen);
		out[vlen] = '\0';
	}
}

/* Read one answer: the status, the body into out; *is_close when the server ends the
 * connection. 0, or -1 with err (*got_any tells whether any byte came). */
static int http_read_answer(struct http_plain *p, bool is_head, int64_t deadline, struct buf *out,
                            long *status, bool *is_close, bool *got_any, char *err, size_t err_len)
{
	struct buf raw;
	const char *why;
	ssize_t n;
	int rc;

	buf_init(&raw, HTTP_BUF_MIN, HTTP_RESPONSE_MAX);
	*got_any = false;
	do {
		n = http_recv_some(p->fd, &raw, deadline, err, err_len);
		if (n < 0) {
			rc = -1;
			break;
		}
		*got_any = *got_any || n > 0;
		rc = http_parse_answer(&raw, is_head, n == 0, out, status, is_close, &why);
		if (rc < 0)
			snprintf(err, err_len, "%s", why);
	} while (rc == 0);
	p->location[0] = '\0';
	if (rc > 0 && *status >= 300 && *status < 400)
		http_copy_location(&raw, p->location, sizeof(p->location));
	buf_free(&raw);
	return rc < 0 ? -1 : 0;
}

int http_plain_request(struct http_plain *p, long timeout_ms, const char *method,
                       const char *target, const char *headers, const char *body, struct buf *out,
                       long *status, char *err, size_t err_len)
{
	int64_t deadline = timeout_ms > 0 ? http_now_ms() + timeout_ms : 0;
	size_t body_len = body != NULL ? strlen(body) : 0;
	bool is_close = false, got_any = false, is_reused;
	char *req = NULL;
	int len, rc = -1;

	len = asprintf(&req,
	               "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: coffer\r\nAccept: "
	               "application/json\r\n%sContent-Length: %zu\r\n\r\n",
	               method, target, p->authority, headers, body_len);
	if (len < 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	/* A kept connection the server has since closed fails before any answer: once more on a
	 * new one. Nothing was answered, so the server did not act on the request. */
	for (int attempt = 0; attempt < 2; attempt++) {
		is_reused = p->fd >= 0;
		if (!is_reused && http_connect(p, deadline, err, err_len) != 0)
			break;
		buf_reset(out);
		rc = http_send_all(p->fd, req, (size_t)len, deadline, err, err_len);
		if (rc == 0 && body_len > 0)
			rc = http_send_all(p->fd, body, body_len, deadline, err, err_len);
		if (rc == 0)
			rc = http_read_answer(p, strcmp(method, "HEAD") == 0, deadline, out, status,
			                      &is_close, &got_any, err, err_len);
		if (rc == 0 && is_close)
			http_plain_close(p);
		if (rc == 0)
			break;
		http_plain_close(p);
		if (!is_reused || got_any)
			break;
	}
	secmem_freezero(req, (size_t)len);
	return rc;
}
