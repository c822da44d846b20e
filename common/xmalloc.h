/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xmalloc.h: allocation that does not fail (OpenSSH's xmalloc). Every function here calls
 * fatal("out of memory") (log.h) where the call beneath it would return NULL, so its result
 * needs no check.
 *
 * The out-of-memory policy. cofferd treats running out of memory as fatal, as OpenBSD's and
 * OpenSSH's daemons do: server/ allocates only through these functions, secrets through the
 * xsecmem_ twins (sodium_malloc, as secmem.h), and jansson through the allocator that
 * coffer_json_init_daemon() (json.h) makes fatal. No function in server/ returns
 * COFFER_ERR_NOMEM, and no caller there tests for it. A NULL from jansson in cofferd still means
 * bad input (json_loads, json_pack with a NULL or non-UTF-8 string, json_string of non-UTF-8),
 * never lack of memory; those checks stay.
 * A size that a client chooses is bounded by the request limits (front/http_limits.h: the body,
 * the path, the values it holds) and refused with a 4xx before it reaches an allocation here, so
 * that no request can make the daemon exit.
 *
 * Whoever else opts in gets the same. The CLI and the agent do not: they, and common/ which they
 * share with cofferd, keep returning COFFER_ERR_NOMEM. In cofferd, common/ allocates two ways.
 * Through jansson (json.c's parse, list and dump helpers): after coffer_json_init_daemon() those
 * cannot fail for memory, so cofferd checks only what they say about input. Through malloc
 * (buf.h, fileio.h, audit_chain.c): cofferd checks the result as any other error; the request
 * body (a struct buf, its size bounded by max_request_size) calls fatal() when it cannot grow, and
 * audit_chain's codes are passed on (they report a file that cannot be read, or memory).
 */
#ifndef COFFER_XMALLOC_H
#define COFFER_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* malloc/calloc/reallocarray/strdup/strndup that never return NULL. A size of 0 gets a unique
 * pointer (as one byte); xcalloc and xreallocarray are fatal when n * size overflows. Free with
 * free(3) (or secmem_freezero() when the block held a secret). */
void *xmalloc(size_t len);
void *xcalloc(size_t n, size_t size);
/* As reallocarray(3): p (may be NULL) is moved to a block of n * size bytes, its contents kept.
 * A block that holds a secret grows in a struct buf (buf.h) instead, which wipes the old copy. */
void *xreallocarray(void *p, size_t n, size_t size);
/* s must not be NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t maxlen);
/* asprintf/vasprintf: *out is always set; the length of the text is returned (never negative). */
int xasprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xvasprintf(char **out, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* secmem_alloc/dup/strdup (locked, guard-paged, zeroed) that never return NULL; free with
 * secmem_free(). src may be NULL only when len is 0; s must not be NULL. */
void *xsecmem_alloc(size_t len);
void *xsecmem_dup(const void *src, size_t len);
char *xsecmem_strdup(const char *s);

#endif
