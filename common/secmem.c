/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secmem.c: libsodium initialisation and the locked allocator for long-lived secrets (root key,
 * keyring, tokens). Every module that holds a secret calls these or secmem_wipe().
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "secmem.h"

static pthread_once_t secmem_once = PTHREAD_ONCE_INIT;
static int secmem_init_rc = COFFER_ERR_INTERNAL;

static void secmem_init_once(void)
{
	/* sodium_init returns 1 when already initialised elsewhere, which is fine. */
	secmem_init_rc = sodium_init() < 0 ? COFFER_ERR_INTERNAL : COFFER_OK;
}

int secmem_init(void)
{
	if (pthread_once(&secmem_once, secmem_init_once) != 0)
		return COFFER_ERR_INTERNAL;
	return secmem_init_rc;
}

void *secmem_alloc(size_t len)
{
	void *p;

	if (secmem_init() != 0)
		return NULL;
	/* sodium_malloc(0) returns a valid guarded pointer; keep that so callers need no special
	 * case. */
	p = sodium_malloc(len);
	if (p != NULL && len > 0)
		sodium_memzero(p, len);
	return p;
}

void *secmem_dup(const void *src, size_t len)
{
	void *p;

	if (src == NULL && len > 0)
		return NULL;
	p = secmem_alloc(len);
	if (p != NULL && len > 0)
		memcpy(p, src, len);
	return p;
}

char *secmem_strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return secmem_dup(s, strlen(s) + 1);
}

void secmem_free(void *p)
{
	/* sodium_free wipes the whole region before unmapping it, and accepts NULL. */
	sodium_free(p);
}

void secmem_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		sodium_memzero(p, len);
}

void secmem_freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	secmem_wipe(p, len);
	free(p);
}

int secmem_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return 0;
	return sodium_memcmp(a, b, len) == 0 ? 0 : -1;
}
