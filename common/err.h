/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.h: the one error enum of the code base. Library-style functions return 0 on success or a
 * negative enum coffer_err; the HTTP status is derived from it in one place (server/api/request.c).
 */
#ifndef COFFER_ERR_H
#define COFFER_ERR_H

#include <stddef.h>

#define COFFER_WUR __attribute__((warn_unused_result))

enum coffer_err {
	COFFER_OK = 0,
	COFFER_ERR_NOMEM = -1,       /* allocation failed */
	COFFER_ERR_INVALID = -2,     /* bad input from a caller or client (400) */
	COFFER_ERR_NOT_FOUND = -3,   /* no such entry (404) */
	COFFER_ERR_PERMISSION = -4,  /* missing, invalid or insufficient token (403) */
	COFFER_ERR_SEALED = -5,      /* the barrier is sealed (503) */
	COFFER_ERR_UNINIT = -6,      /* the vault is not initialized (501) */
	COFFER_ERR_INTEGRITY = -7,   /* authentication of stored or supplied data failed */
	COFFER_ERR_IO = -8,          /* storage or file I/O failed (500) */
	COFFER_ERR_EXISTS = -9,      /* already exists / already initialized (400) */
	COFFER_ERR_TOO_LARGE = -10,  /* request body or value too large (413) */
	COFFER_ERR_METHOD = -11,     /* method not allowed on this route (405) */
	COFFER_ERR_MEDIA_TYPE = -12, /* unsupported content type (415) */
	COFFER_ERR_LIMIT = -13,      /* rate or concurrency limit reached (429) */
	COFFER_ERR_CONFIG = -14,     /* bad configuration */
	COFFER_ERR_INTERNAL = -15,   /* a broken invariant (500) */
	COFFER_ERR_BAD_SHARE =
	    -16, /* an unseal share is malformed or the set does not open the root key (400) */
	COFFER_ERR_CAS = -17,           /* check-and-set mismatch (400) */
	COFFER_ERR_UNSUPPORTED = -18,   /* no such route (404) */
	COFFER_ERR_HEADERS_LARGE = -19, /* request header fields too large (431) */
	COFFER_ERR_UNAVAILABLE = -20,   /* the storage cannot be reached now (503) */
	COFFER_ERR_STANDBY = -21        /* this node is not (or no longer) the active one (503) */
};

/* The last (lowest) code: every code from COFFER_OK down to it has its own text. */
#define COFFER_ERR_LAST COFFER_ERR_STANDBY

/* Static English text for an error code; never NULL, never secret. */
const char *coffer_strerror(int err);
/* Format a message for a caller's error buffer (err_len bytes, truncated); a no-op when err is
 * NULL or err_len is 0, so callers may pass an optional buffer straight through. */
void coffer_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
