/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h: the one growing byte buffer (OpenSSH's sshbuf): append, printf, reserve, take, reset and
 * a free that wipes, for secrets in transit (HTTP answers, rendered files) and anything else
 * built piece by piece. It grows by copy-and-wipe, never realloc(), which could leave an unwiped
 * copy of a secret behind. Long-lived keys belong in secmem instead.
 */
#ifndef COFFER_BUF_H
#define COFFER_BUF_H

#include <stddef.h>

#include "err.h"

/* The first allocation when min_cap is 0. */
#define BUF_MIN_CAP 256

/*
 * A zeroed struct buf (= {0}, calloc) is an empty buffer with the defaults: no limit but the
 * address space, a first allocation of BUF_MIN_CAP. The fields may be read; only these functions
 * change them.
 *
 * Out of memory: nothing here aborts. A failed call returns COFFER_ERR_NOMEM (or
 * COFFER_ERR_TOO_LARGE past max_len), keeps what the buffer held, and is remembered in err: every
 * later append, printf or reserve does nothing and returns it again, so that a run of appends can
 * be checked once at its end. The client programs return the error; the daemon, whose policy is
 * fatal(), calls fatal() where it checks.
 */
struct buf {
	char *data;     /* NULL until the first allocation; then data[len] is '\0' */
	size_t len;     /* the bytes held, the NUL not counted */
	size_t cap;     /* the bytes allocated: at most max_len + 1 */
	size_t min_cap; /* the first allocation, at least (0: BUF_MIN_CAP) */
	size_t max_len; /* the most bytes it may hold (0: no limit) */
	int err;        /* the first failure, until buf_reset() or buf_free(); 0 if none */
};

/* An empty buffer whose first allocation is min_cap bytes (0: BUF_MIN_CAP), holding at most
 * max_len bytes (0: no limit). Allocates nothing, so it cannot fail. */
void buf_init(struct buf *b, size_t min_cap, size_t max_len);

/* Make room for n more bytes, so that appends of n bytes in all cannot fail. 0 or an error. */
int buf_reserve(struct buf *b, size_t n) COFFER_WUR;
/* Append n bytes of p (p may be NULL when n is 0). Amortised O(n): the room is checked and the
 * bytes copied; only growth allocates, doubling. 0 or an error. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Append printf output, formatted in place (no intermediate copy). 0 or an error. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The bytes for a tail the caller writes in place and may write again without appending it (the
 * audit chain's suffix): after it, data[0 .. len + n) may be written (the NUL at data[len] too);
 * len is unchanged and the tail is not part of the buffer. Valid until the next call that changes
 * b. data, or NULL after an error.
 */
char *buf_room(struct buf *b, size_t n);
/* Keep the first len bytes (len <= b->len), wiping the rest: undo appends. */
void buf_truncate(struct buf *b, size_t len);

/*
 * Take the contents: the NUL-terminated bytes (malloc'd) and their length in *len, and b empty
 * again (its limits kept). Release them with secmem_freezero(p, *len + 1): nothing past the NUL
 * is left unwiped. NULL (and b unchanged) when b has failed or memory runs out.
 */
char *buf_take(struct buf *b, size_t *len) COFFER_WUR;

/* Empty b for reuse: the bytes held are wiped, the allocation and limits kept, err cleared. */
void buf_reset(struct buf *b);
/* Wipe and release what b holds; b is empty again (its limits kept) and may be reused. */
void buf_free(struct buf *b);

#endif
