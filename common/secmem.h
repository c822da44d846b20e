/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secmem.h: locked, guarded memory for keys, tokens and plaintext (libsodium's sodium_malloc), and
 * wiping. sodium_malloc is page-granular and slow: use it for long-lived secrets, and wipe
 * short-lived stack or heap buffers with secmem_wipe() instead.
 */
#ifndef COFFER_SECMEM_H
#define COFFER_SECMEM_H

#include <stddef.h>

#include "err.h"

/* Initialise libsodium; idempotent and thread-safe. 0 or COFFER_ERR_INTERNAL. */
int secmem_init(void);

/* Locked, guard-paged allocation of len bytes (len may be 0). NULL on failure. */
void *secmem_alloc(size_t len);
/* Locked copy of len bytes of src. NULL on failure. */
void *secmem_dup(const void *src, size_t len);
/* Locked copy of a NUL-terminated string. NULL on failure or when s is NULL. */
char *secmem_strdup(const char *s);
/* Wipe and release memory from secmem_alloc/dup/strdup. NULL is allowed. */
void secmem_free(void *p);

/* Wipe len bytes in a way the compiler cannot elide. */
void secmem_wipe(void *p, size_t len);
/* free(3) after wiping len bytes; NULL is allowed. For ordinary heap buffers that held a secret. */
void secmem_freezero(void *p, size_t len);
/* Constant-time comparison of two equal-length buffers: 0 when equal, -1 otherwise. */
int secmem_equal(const void *a, const void *b, size_t len) COFFER_WUR;

#endif
