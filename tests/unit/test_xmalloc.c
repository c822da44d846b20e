/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_xmalloc.c: the allocators that cannot fail: what they return, and the fatal exit, in a
 * child process, where the size cannot be had.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"
#include "test.h"
#include "testutil.h"
#include "xmalloc.h"

static void xcalloc_overflowing(void)
{
	free(xcalloc(SIZE_MAX / 2 + 1, 2));
}

static void xreallocarray_overflowing(void)
{
	free(xreallocarray(NULL, SIZE_MAX / 4 + 1, 8));
}

static void xsecmem_alloc_too_large(void)
{
	/* sodium_malloc refuses a size that does not leave room for its guard pages. */
	secmem_free(xsecmem_alloc(SIZE_MAX));
}

static void returning(void)
{
}

static void test_xmalloc_zero_length_is_a_unique_pointer(void)
{
	void *a = xmalloc(0), *b = xcalloc(0, 8), *c = xreallocarray(NULL, 4, 0);
	int is_distinct = a != b && b != c && a != c;

	free(a);
	free(b);
	free(c);
	CHECK(is_distinct);
}

static void test_xcalloc_returns_zeroed_memory(void)
{
	unsigned char *p = xcalloc(16, 4);
	size_t i;

	for (i = 0; i < 64 && p[i] == 0; i++)
		;
	free(p);
	CHECK_EQ(i, 64);
}

static void test_xreallocarray_keeps_the_contents(void)
{
	char *p = xmalloc(4);

	memcpy(p, "abc", 4);
	p = xreallocarray(p, 1000, 8);
	CHECK(strcmp(p, "abc") == 0);
	free(p);
}

static void test_xstrdup_and_xstrndup_copy(void)
{
	char *a = xstrdup("token"), *b = xstrndup("token", 3);
	int is_same = strcmp(a, "token") == 0 && strcmp(b, "tok") == 0;

	free(a);
	free(b);
	CHECK(is_same);
}

static void test_xasprintf_formats_and_returns_the_length(void)
{
	char *s = NULL;
	int len = xasprintf(&s, "%s/%d", "kv", 42);
	int is_same = strcmp(s, "kv/42") == 0;

	free(s);
	CHECK_EQ(len, 5);
	CHECK(is_same);
}

static void test_xsecmem_copies_into_secure_memory(void)
{
	static const unsigned char key[4] = {1, 2, 3, 4};
	unsigned char *z = xsecmem_alloc(32), *k = xsecmem_dup(key, sizeof(key));
	char *t = xsecmem_strdup("s.root");
	int is_same =
	    z[0] == 0 && z[31] == 0 && memcmp(k, key, sizeof(key)) == 0 && strcmp(t, "s.root") == 0;

	secmem_free(z);
	secmem_free(k);
	secmem_free(t);
	CHECK(is_same);
}

static void test_xcalloc_overflow_is_fatal(void)
{
	CHECK(testutil_exits_out_of_memory(xcalloc_overflowing));
}

static void test_xreallocarray_overflow_is_fatal(void)
{
	CHECK(testutil_exits_out_of_memory(xreallocarray_overflowing));
}

static void test_xsecmem_alloc_failure_is_fatal(void)
{
	CHECK(testutil_exits_out_of_memory(xsecmem_alloc_too_large));
}

static void test_a_normal_exit_is_not_out_of_memory(void)
{
	CHECK(!testutil_exits_out_of_memory(returning));
}

int main(void)
{
	RUN(test_xmalloc_zero_length_is_a_unique_pointer);
	RUN(test_xcalloc_returns_zeroed_memory);
	RUN(test_xreallocarray_keeps_the_contents);
	RUN(test_xstrdup_and_xstrndup_copy);
	RUN(test_xasprintf_formats_and_returns_the_length);
	RUN(test_xsecmem_copies_into_secure_memory);
	RUN(test_xcalloc_overflow_is_fatal);
	RUN(test_xreallocarray_overflow_is_fatal);
	RUN(test_xsecmem_alloc_failure_is_fatal);
	RUN(test_a_normal_exit_is_not_out_of_memory);
	return test_summary();
}
