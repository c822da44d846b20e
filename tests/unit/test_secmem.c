/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_secmem.c: the locked allocator, wiping and constant-time comparison.
 */
#include <stdint.h>
#include <string.h>

#include "secmem.h"
#include "test.h"

static void test_secmem_init_is_idempotent(void)
{
	CHECK_EQ(secmem_init(), 0);
	CHECK_EQ(secmem_init(), 0);
}

static void test_secmem_alloc_returns_zeroed_writable_memory(void)
{
	unsigned char *p = secmem_alloc(100);
	size_t i;

	CHECK_OUT(p != NULL);
	for (i = 0; i < 100; i++)
		if (p[i] != 0)
			break;
	memset(p, 0x5a, 100);
	secmem_free(p);
	p = NULL;
	CHECK_EQ_OUT(i, 100);
out:
	secmem_free(p);
}

static void test_secmem_alloc_zero_length(void)
{
	void *p = secmem_alloc(0);

	CHECK_OUT(p != NULL);
out:
	secmem_free(p);
}

static void test_secmem_dup_copies(void)
{
	static const unsigned char src[5] = {1, 2, 3, 4, 5};
	unsigned char *p = secmem_dup(src, sizeof(src));
	int is_same;

	CHECK_OUT(p != NULL);
	is_same = memcmp(p, src, sizeof(src)) == 0;
	secmem_free(p);
	p = NULL;
	CHECK_OUT(is_same);
out:
	secmem_free(p);
}

static void test_secmem_strdup_copies_and_rejects_null(void)
{
	char *s = secmem_strdup("s.token");
	int is_same;

	CHECK_OUT(s != NULL);
	is_same = strcmp(s, "s.token") == 0;
	secmem_free(s);
	s = NULL;
	CHECK_OUT(is_same);
	CHECK_OUT(secmem_strdup(NULL) == NULL);
out:
	secmem_free(s);
}

static void test_secmem_free_accepts_null(void)
{
	secmem_free(NULL);
	secmem_freezero(NULL, 10);
}

static void test_secmem_wipe_zeroes(void)
{
	unsigned char buf[33];
	size_t i;

	memset(buf, 0xff, sizeof(buf));
	secmem_wipe(buf, sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0);
	secmem_wipe(NULL, 0);
}

static void test_secmem_freezero_frees_heap_buffer(void)
{
	char *p = malloc(64);

	CHECK_OUT(p != NULL);
	memset(p, 'k', 64);
out:
	secmem_freezero(p, 64);
}

static void test_secmem_equal_compares(void)
{
	static const unsigned char a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {1, 2, 3, 5};

	CHECK_EQ(secmem_equal(a, b, 4), 0);
	CHECK_EQ(secmem_equal(a, c, 4), -1);
	CHECK_EQ(secmem_equal(a, c, 3), 0);
	CHECK_EQ(secmem_equal(a, c, 0), 0);
}

/* Growth keeps the bytes in use, doubles from min_cap, and leaves a big enough buffer alone. */
int main(void)
{
	RUN(test_secmem_init_is_idempotent);
	RUN(test_secmem_alloc_returns_zeroed_writable_memory);
	RUN(test_secmem_alloc_zero_length);
	RUN(test_secmem_dup_copies);
	RUN(test_secmem_strdup_copies_and_rejects_null);
	RUN(test_secmem_free_accepts_null);
	RUN(test_secmem_wipe_zeroes);
	RUN(test_secmem_freezero_frees_heap_buffer);
	RUN(test_secmem_equal_compares);
	return test_summary();
}
