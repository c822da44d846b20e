/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_buf.c: the growing byte buffer (common/buf.c): contents and the NUL after them, the growth
 * policy with known capacities, the limit and the sticky error, printf in place, take, and the
 * wiping of what reset and a cut-off printf leave behind.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "secmem.h"
#include "test.h"

/* Whether the n bytes at p are all zero. */
static int is_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void test_buf_append_keeps_bytes_and_a_nul(void)
{
	struct buf b = {0};
	int is_ok;

	CHECK_EQ_OUT(buf_append(&b, "abc", 3), 0);
	CHECK_EQ_OUT(buf_append(&b, "de\0f", 4), 0);
	CHECK_EQ_OUT(buf_append(&b, NULL, 0), 0);
	is_ok = b.len == 7 && memcmp(b.data, "abcde\0f", 8) == 0 && b.cap == BUF_MIN_CAP;
	buf_free(&b);
	CHECK_OUT(is_ok);
	CHECK_OUT(b.data == NULL && b.len == 0 && b.cap == 0);
out:
	buf_free(&b);
}

static void test_buf_grows_by_doubling_from_min_cap(void)
{
	static const size_t sizes[] = {10, 5, 1, 100, 1000};
	static const size_t caps[] = {16, 16, 32, 128, 2048};
	char chunk[1000];
	struct buf b;
	size_t i, len = 0;

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 16, 0);
	CHECK_OUT(b.data == NULL && b.cap == 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK_EQ_OUT(buf_append(&b, chunk, sizes[i]), 0);
		len += sizes[i];
		CHECK_EQ_OUT(b.len, len);
		CHECK_EQ_OUT(b.cap, caps[i]);
		CHECK_EQ_OUT(b.data[b.len], '\0');
	}
	buf_free(&b);
	CHECK_EQ_OUT(b.min_cap, 16);
out:
	buf_free(&b);
}

static void test_buf_max_len_refuses_and_the_error_sticks(void)
{
	struct buf b;

	buf_init(&b, 0, 10);
	CHECK_EQ_OUT(buf_append(&b, "12345678", 8), 0);
	/* The allocation never passes max_len + 1, even from a larger min_cap. */
	CHECK_EQ_OUT(b.cap, 11);
	CHECK_EQ_OUT(buf_append(&b, "abc", 3), COFFER_ERR_TOO_LARGE);
	CHECK_OUT(b.len == 8 && strcmp(b.data, "12345678") == 0);
	/* It would fit, but the buffer has failed: a run of appends is checked once. */
	CHECK_EQ_OUT(buf_append(&b, "a", 1), COFFER_ERR_TOO_LARGE);
	CHECK_EQ_OUT(buf_printf(&b, "%d", 1), COFFER_ERR_TOO_LARGE);
	CHECK_EQ_OUT(buf_reserve(&b, 0), COFFER_ERR_TOO_LARGE);
	CHECK_EQ_OUT(b.err, COFFER_ERR_TOO_LARGE);
	CHECK_EQ_OUT(b.len, 8);
	buf_reset(&b);
	CHECK_EQ_OUT(b.err, 0);
	CHECK_EQ_OUT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_OUT(buf_append(&b, "", 0), 0);
	CHECK_EQ_OUT(buf_append(&b, "x", 1), COFFER_ERR_TOO_LARGE);
out:
	buf_free(&b);
}

static void test_buf_refuses_sizes_that_overflow(void)
{
	struct buf b = {0};

	CHECK_EQ_OUT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_OUT(buf_reserve(&b, SIZE_MAX - 10), COFFER_ERR_NOMEM);
	CHECK_EQ_OUT(b.len, 10);
	buf_free(&b);
	CHECK_EQ_OUT(buf_reserve(&b, SIZE_MAX), COFFER_ERR_NOMEM);
	buf_free(&b);
	buf_init(&b, 0, SIZE_MAX);
	CHECK_EQ_OUT(buf_reserve(&b, SIZE_MAX), COFFER_ERR_TOO_LARGE);
out:
	buf_free(&b);
}

static void test_buf_reserve_makes_appends_infallible(void)
{
	struct buf b;
	char *data;

	buf_init(&b, 8, 100);
	CHECK_EQ_OUT(buf_reserve(&b, 40), 0);
	CHECK_OUT(b.cap >= 41 && b.len == 0 && b.data[0] == '\0');
	data = b.data;
	CHECK_EQ_OUT(buf_append(&b, "0123456789012345678901234567890123456789", 40), 0);
	CHECK_OUT(b.data == data); /* no allocation after the reserve */
	CHECK_EQ_OUT(buf_reserve(&b, 61), COFFER_ERR_TOO_LARGE);
out:
	buf_free(&b);
}

static void test_buf_printf_formats_in_place_and_grows(void)
{
	char want[400];
	struct buf b;
	int is_ok;

	buf_init(&b, 8, 0);
	CHECK_EQ_OUT(buf_printf(&b, "%s=%d", "key", 42), 0);
	CHECK_OUT(b.len == 6 && strcmp(b.data, "key=42") == 0 && b.cap == 8);
	CHECK_EQ_OUT(buf_printf(&b, "&%0300d", 7), 0);
	snprintf(want, sizeof(want), "key=42&%0300d", 7);
	is_ok = b.len == strlen(want) && strcmp(b.data, want) == 0 && b.cap == 512;
	buf_free(&b);
	CHECK_OUT(is_ok);
out:
	buf_free(&b);
}

static void test_buf_printf_past_the_limit_wipes_what_it_cut_off(void)
{
	struct buf b;

	buf_init(&b, 0, 10);
	CHECK_EQ_OUT(buf_append(&b, "abc", 3), 0);
	CHECK_EQ_OUT(b.cap, 11);
	CHECK_EQ_OUT(buf_printf(&b, "%s", "SECRET-TOKEN"), COFFER_ERR_TOO_LARGE);
	CHECK_OUT(b.len == 3 && strcmp(b.data, "abc") == 0);
	/* vsnprintf wrote "SECRET-" into the room before the limit was known. */
	CHECK_OUT(is_zero(b.data + 3, b.cap - 3));
out:
	buf_free(&b);
}

static void test_buf_take_hands_over_and_empties(void)
{
	struct buf b;
	size_t len = 99;
	char *p = NULL;

	buf_init(&b, 64, 1000);
	CHECK_EQ_OUT(buf_append(&b, "secret-value", 12), 0);
	buf_reset(&b);
	CHECK_EQ_OUT(buf_append(&b, "tok", 3), 0);
	p = buf_take(&b, &len);
	CHECK_OUT(p != NULL && len == 3 && strcmp(p, "tok") == 0);
	/* Nothing past the NUL is left unwiped: wiping len + 1 bytes is enough. */
	CHECK_OUT(is_zero(p + 4, 60));
	secmem_freezero(p, len + 1);
	p = NULL;
	CHECK_OUT(b.data == NULL && b.len == 0 && b.cap == 0 && b.min_cap == 64 &&
	          b.max_len == 1000);
	p = buf_take(&b, &len);
	CHECK_OUT(p != NULL && len == 0 && p[0] == '\0');
	secmem_freezero(p, len + 1);
	p = NULL;
	CHECK_EQ_OUT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_OUT(buf_reserve(&b, 991), COFFER_ERR_TOO_LARGE);
	CHECK_OUT(buf_take(&b, &len) == NULL && len == 0 && b.len == 10);
out:
	secmem_freezero(p, len + 1);
	buf_free(&b);
}

static void test_buf_reset_wipes_and_keeps_the_allocation(void)
{
	struct buf b = {0};
	char *data;
	size_t cap;

	CHECK_EQ_OUT(buf_append(&b, "password=hunter2", 16), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	CHECK_OUT(b.data == data && b.cap == cap && b.len == 0);
	CHECK_OUT(is_zero(data, 17));
	CHECK_EQ_OUT(buf_append(&b, "x", 1), 0);
	CHECK_OUT(b.data == data && strcmp(b.data, "x") == 0);
out:
	buf_free(&b);
}

static void test_buf_room_gives_a_rewritable_tail_past_the_end(void)
{
	struct buf b = {0};
	char *p;

	CHECK_EQ_OUT(buf_append(&b, "{\"a\":1}", 7), 0);
	p = buf_room(&b, 64);
	CHECK_OUT(p != NULL && p == b.data && b.cap >= b.len + 64 + 1);
	/* The tail may overwrite the last byte and the NUL, and be written again; len stays. */
	memcpy(p + b.len - 1, ",\"seq\":1}\n", 10);
	memcpy(p + b.len - 1, ",\"seq\":2}\n", 10);
	CHECK_EQ_OUT(b.len, 7);
	CHECK_OUT(memcmp(b.data, "{\"a\":1,\"seq\":2}\n", 16) == 0);
out:
	buf_free(&b);
}

static void test_buf_truncate_drops_and_wipes_the_rest(void)
{
	struct buf b = {0};

	CHECK_EQ_OUT(buf_append(&b, "keep-secret", 11), 0);
	buf_truncate(&b, 4);
	CHECK_EQ_OUT(b.len, 4);
	CHECK_OUT(strcmp(b.data, "keep") == 0);
	CHECK_OUT(b.data[5] == 0 && b.data[10] == 0); /* the dropped bytes are wiped */
	buf_truncate(&b, 9);                          /* longer than held: nothing changes */
	CHECK_EQ_OUT(b.len, 4);
	CHECK_EQ_OUT(buf_append(&b, "!", 1), 0);
	CHECK_OUT(strcmp(b.data, "keep!") == 0);
out:
	buf_free(&b);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	RUN(test_buf_append_keeps_bytes_and_a_nul);
	RUN(test_buf_grows_by_doubling_from_min_cap);
	RUN(test_buf_max_len_refuses_and_the_error_sticks);
	RUN(test_buf_refuses_sizes_that_overflow);
	RUN(test_buf_reserve_makes_appends_infallible);
	RUN(test_buf_printf_formats_in_place_and_grows);
	RUN(test_buf_printf_past_the_limit_wipes_what_it_cut_off);
	RUN(test_buf_take_hands_over_and_empties);
	RUN(test_buf_reset_wipes_and_keeps_the_allocation);
	RUN(test_buf_room_gives_a_rewritable_tail_past_the_end);
	RUN(test_buf_truncate_drops_and_wipes_the_rest);
	return test_summary();
}
