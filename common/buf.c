/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c: the growing byte buffer of buf.h. Growth doubles (from min_cap) up to max_len + 1, with
 * every size computation checked for overflow; the old allocation is wiped before it is freed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "secmem.h"

void buf_init(struct buf *b, size_t min_cap, size_t max_len)
{
	memset(b, 0, sizeof(*b));
	b->min_cap = min_cap;
	b->max_len = max_len;
}

/* Remember the first failure; later calls return it. */
static int buf_fail(struct buf *b, int err)
{
	if (b->err == 0)
		b->err = err;
	return b->err;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t limit = b->max_len != 0 && b->max_len < SIZE_MAX - 1 ? b->max_len : SIZE_MAX - 1;
	size_t need, ncap;
	char *grown;

	if (b->err != 0)
		return b->err;
	if (n > limit - b->len)
		return buf_fail(b, b->max_len != 0 ? COFFER_ERR_TOO_LARGE : COFFER_ERR_NOMEM);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap != 0 ? b->cap : b->min_cap != 0 ? b->min_cap : BUF_MIN_CAP;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > limit + 1)
		ncap = limit + 1;
	grown = malloc(ncap);
	if (grown == NULL)
		return buf_fail(b, COFFER_ERR_NOMEM);
	if (b->data != NULL)
		memcpy(grown, b->data, b->len);
	grown[b->len] = '\0';
	secmem_freezero(b->data, b->cap);
	b->data = grown;
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	/* The hot path: room is there (cap never passes max_len + 1, so no limit to check). */
	if (b->err == 0 && n < b->cap - b->len) {
		if (n > 0)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	size_t room = b->cap - b->len;
	va_list ap;
	int n, rc;

	if (b->err != 0)
		return b->err;
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return buf_fail(b, COFFER_ERR_INVALID);
	if ((size_t)n >= room) {
		/* Too long for the room: what was cut off there may be part of a secret. */
		if (room > 0) {
			secmem_wipe(b->data + b->len, room);
			b->data[b->len] = '\0';
		}
		if ((rc = buf_reserve(b, (size_t)n)) != 0)
			return rc;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

char *buf_room(struct buf *b, size_t n)
{
	return buf_reserve(b, n) == 0 ? b->data : NULL;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (b->data == NULL || len >= b->len)
		return;
	secmem_wipe(b->data + len, b->len - len);
	b->len = len;
	b->data[len] = '\0';
}

char *buf_take(struct buf *b, size_t *len)
{
	char *p;

	*len = 0;
	if (b->err != 0 || buf_reserve(b, 0) != 0)
		return NULL;
	/* The caller wipes len + 1 bytes: nothing may be left beyond them. */
	secmem_wipe(b->data + b->len + 1, b->cap - b->len - 1);
	p = b->data;
	*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_reset(struct buf *b)
{
	if (b->data != NULL) {
		secmem_wipe(b->data, b->len);
		b->data[0] = '\0';
	}
	b->len = 0;
	b->err = 0;
}

void buf_free(struct buf *b)
{
	secmem_freezero(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
