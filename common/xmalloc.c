/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xmalloc.c: allocation functions that call fatal() instead of returning NULL, for cofferd (its
 * out-of-memory policy is in xmalloc.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

static void *xcheck(void *p)
{
	if (p == NULL)
		fatal("out of memory");
	return p;
}

/* n * size, or fatal when it overflows; 0 becomes 1 so that malloc never answers NULL for it. */
static size_t xsize(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatal("out of memory (%zu * %zu bytes)", n, size);
	return n * size != 0 ? n * size : 1;
}

void *xmalloc(size_t len)
{
	return xcheck(malloc(len != 0 ? len : 1));
}

void *xcalloc(size_t n, size_t size)
{
	return xcheck(calloc(xsize(n, size), 1));
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	/* On failure realloc leaves p as it was; fatal() ends the process before anyone uses it. */
	return xcheck(realloc(p, xsize(n, size)));
}

char *xstrdup(const char *s)
{
	return xcheck(strdup(s));
}

char *xstrndup(const char *s, size_t maxlen)
{
	return xcheck(strndup(s, maxlen));
}

int xvasprintf(char **out, const char *fmt, va_list ap)
{
	int len = vasprintf(out, fmt, ap);

	/* *out is undefined after a failed vasprintf: never look at it. */
	if (len < 0)
		fatal("out of memory");
	return len;
}

int xasprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = xvasprintf(out, fmt, ap);
	va_end(ap);
	return len;
}

void *xsecmem_alloc(size_t len)
{
	return xcheck(secmem_alloc(len));
}

void *xsecmem_dup(const void *src, size_t len)
{
	return xcheck(secmem_dup(src, len));
}

char *xsecmem_strdup(const char *s)
{
	return xcheck(secmem_strdup(s));
}
